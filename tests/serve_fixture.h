// A running `tweetlm serve` for the server tests (test_serve, test_serve_web): started on a free
// port (--port 0, the port read from its "listening on" line), stopped with SIGTERM at the end
// (its exit code is checked: a clean stop is part of what is tested).
#pragma once

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/file.h"
#include "train_fixture.h"

namespace tlm::testing {

class ServerProcess {
 public:
  // Starts `tweetlm serve -m model --port 0 args...` with its output in log_dir; waits until it
  // listens (or exits). ok() tells which.
  ServerProcess(const std::string& model, const std::vector<std::string>& args, const std::string& log_dir,
                const Env& env = {})
      : out_(log_dir + "/serve.out"), err_(log_dir + "/serve.err") {
    std::vector<std::string> a = {"serve", "-m", model, "--port", "0"};
    a.insert(a.end(), args.begin(), args.end());
    pid_ = spawn_program(tweetlm(a), out_, err_, env);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string out = path_exists(out_) ? read_file(out_) : "";
      const size_t at = out.find("listening on http://");
      if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
        const size_t colon = out.rfind(':', out.find('\n', at));
        port_ = std::atoi(out.c_str() + colon + 1);
        url_ = out.substr(at + 13, out.find('\n', at) - at - 13);
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  const std::string& url() const { return url_; }  // http://127.0.0.1:PORT
  std::string log() const { return (path_exists(out_) ? read_file(out_) : "") + (path_exists(err_) ? read_file(err_) : ""); }
  // SIGTERM and wait: the exit code (0 for a clean stop).
  int stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      exit_code_ = wait_exit(pid_);
      pid_ = -1;
    }
    return exit_code_;
  }

 private:
  std::string out_, err_, url_;
  pid_t pid_ = -1;
  int port_ = 0, exit_code_ = -1;
};

}  // namespace tlm::testing
