// Exactness of our tokenizer against the real clients, token for token: Hugging Face tokenizers
// (npm @anush008/tokenizers, the native binding of the Rust library) and OpenAI's tiktoken (npm
// tiktoken), both pinned in tools/node and run through the scripts in tests/node.
//
// Tokenizers compared, each on the TweetEval test tweets (allowed here: this is exactness, not a
// model evaluation), the hand-written hard strings and 3000 seeded random Unicode strings
// (tokenizer_texts.h):
//   - GPT-2, converted from the ranks the tiktoken package ships: ours vs HF vs tiktoken;
//   - ours trained on TweetEval train text (vocab 8192): ours vs HF loading our saved
//     tokenizer.json, and vs tiktoken loading our vocabulary exported as tiktoken ranks;
//   - HF-trained (the binding's trainer on the same text, cut to 8192): ours vs HF.
// The pre-tokenizer alone is compared with HF's on every code point of planes 0-3 and 14 (and a
// sample of the others), which catches character-class table differences that random text
// only hits by luck (Unicode 16 letters unknown to utf8proc 2.8 were found this way).
// Plus pure C++ properties that need no Node: decode(encode(x)) == x on random byte strings
// (invalid UTF-8 included), encode_batch == encode, save/load keeps every id.
//
// Without node or tools/node/node_modules the Node tests FAIL with a message naming
// scripts/setup.sh; they never skip. Each client runs once per tokenizer on all texts together.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/rng.h"
#include "fixtures.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/bpe_train.h"
#include "tokenizer_texts.h"

namespace fs = std::filesystem;
using namespace tlm;
using tlm::testing::escaped;

namespace {

using Ids = std::vector<uint32_t>;

const std::string kRepo = fs::weakly_canonical(fs::path(TLM_TEST_DATA) / ".." / "..").string();
const std::string kTweetEval = std::string(TLM_SHARED_DIR) + "/data/tweeteval";
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs a shell command; stdout and stderr together into `out`; returns the exit status.
int run_command(const std::string& cmd, std::string& out) {
  out.clear();
  std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  return ::pclose(p);
}

// Why the Node clients cannot run; empty when they can.
const std::string& node_problem() {
  static const std::string why = [] {
    std::string out;
    if (run_command("node --version", out) != 0) {
      while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
      return "node does not run (" + out + "): run scripts/setup.sh";
    }
    for (const char* pkg : {"@anush008/tokenizers", "tiktoken"})
      if (!fs::exists(kRepo + "/tools/node/node_modules/" + pkg))
        return std::string("tools/node/node_modules/") + pkg + " is missing: run scripts/setup.sh";
    return std::string();
  }();
  return why;
}

std::string node(const std::string& script, const std::vector<std::string>& args) {
  std::string cmd = "node " + quote(kRepo + "/tests/node/" + script);
  for (const std::string& a : args) cmd.append(" ").append(quote(a));
  std::string out;
  if (int rc = run_command(cmd, out); rc != 0)
    throw std::runtime_error(script + " failed (status " + std::to_string(rc) + "): " + out);
  return out;
}

// Writes `texts` as JSON lines, runs `node SCRIPT ARGS... IN OUT`, reads one id list per text.
std::vector<Ids> node_encode(const std::string& script, std::vector<std::string> args,
                             const std::vector<std::string>& texts, const std::string& dir) {
  std::string in = dir + "/texts.jsonl", outp = dir + "/ids.jsonl", lines;
  for (const std::string& t : texts) {
    append_json_string(lines, t);
    lines.push_back('\n');
  }
  tlm::testing::write_file(in, lines);
  args.push_back(in);
  args.push_back(outp);
  node(script, args);
  std::string text = tlm::testing::slurp(outp);
  std::vector<Ids> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    Ids ids;
    for (size_t i = pos + 1; i + 1 < nl;) {  // "[1,2,3]"
      size_t j = text.find_first_of(",]", i);
      ids.push_back(static_cast<uint32_t>(std::stoul(text.substr(i, j - i))));
      i = j + 1;
    }
    out.push_back(std::move(ids));
    pos = nl + 1;
  }
  if (out.size() != texts.size())
    throw std::runtime_error(script + ": " + std::to_string(out.size()) + " results for " +
                             std::to_string(texts.size()) + " texts");
  return out;
}

// All texts of the Node comparisons, in named groups, so each client runs once per tokenizer.
struct Corpus {
  std::vector<std::string> texts;
  std::map<std::string, std::pair<size_t, size_t>> groups;  // name -> [begin, end)
  void add(const std::string& name, const std::vector<std::string>& v) {
    groups[name] = {texts.size(), texts.size() + v.size()};
    texts.insert(texts.end(), v.begin(), v.end());
  }
};

const Corpus& corpus() {
  static const Corpus c = [] {
    Corpus c;
    c.add("tweeteval", tlm::testing::tweeteval_test_texts(kTweetEval));
    c.add("hard", tlm::testing::hard_strings());
    Rng r(20240501);
    std::vector<std::string> random;
    for (int i = 0; i < 3000; ++i) random.push_back(tlm::testing::random_unicode(r));
    c.add("random", random);
    return c;
  }();
  return c;
}

std::vector<std::string> tweeteval_files(const char* name) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(kTweetEval))
    if (e.path().filename() == name) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// Ours trained on the TweetEval train text: pure C++, shared by the property tests.
const Tokenizer& trained() {
  static const Tokenizer t = [] {
    BpeTrainOptions opt;
    opt.vocab_size = 8192;
    return train_bpe(tweeteval_files("train_text.txt"), opt);
  }();
  return t;
}

std::string base64(const std::string& s) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < s.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(s[i])) << 16;
    if (i + 1 < s.size()) v |= uint32_t(uint8_t(s[i + 1])) << 8;
    if (i + 2 < s.size()) v |= uint8_t(s[i + 2]);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += i + 1 < s.size() ? k[(v >> 6) & 63] : '=';
    out += i + 2 < s.size() ? k[v & 63] : '=';
  }
  return out;
}

// Our vocabulary as a tiktoken encoding (the JSON shape of tiktoken's encoders/*.json): rank =
// our id for every ordinary token, added tokens as special tokens.
std::string tiktoken_encoding_json(const Tokenizer& t) {
  std::string ranks;
  nlohmann::json specials = nlohmann::json::object();
  std::vector<bool> added(t.vocab_size(), false);
  for (const AddedToken& a : t.added_tokens()) {
    specials[a.content] = a.id;
    added[a.id] = true;
  }
  for (uint32_t id = 0; id < t.vocab_size(); ++id)
    if (!added[id]) ranks += base64(t.token_bytes(id)) + " " + std::to_string(id) + "\n";
  return nlohmann::json{{"bpe_ranks", ranks}, {"special_tokens", specials}, {"pat_str", kGpt2Pattern}}.dump();
}

// One tokenizer under comparison: ours (loaded from the tokenizer.json the clients load) and the
// clients' ids on corpus().texts. `error` says what could not be set up.
struct Compared {
  std::string error;
  Tokenizer ours;
  std::vector<Ids> hf, tiktoken;  // tiktoken empty when not compared
};

Compared compare_setup(const char* name, const std::function<void(Compared&, const std::string& dir)>& make) {
  Compared c;
  if (!node_problem().empty()) {
    c.error = node_problem();
    return c;
  }
  static tlm::testing::TempDir tmp;
  std::string dir = tmp / name;
  fs::create_directories(dir);
  try {
    make(c, dir);
  } catch (const std::exception& e) {
    c.error = std::string(name) + ": " + e.what();
  }
  return c;
}

const Compared& gpt2() {
  static const Compared c = compare_setup("gpt2", [](Compared& c, const std::string& dir) {
    node("gpt2_tokenizer_json.js", {dir + "/tokenizer.json"});
    c.ours = Tokenizer::load(dir + "/tokenizer.json");
    c.hf = node_encode("hf_encode.js", {dir + "/tokenizer.json"}, corpus().texts, dir);
    c.tiktoken = node_encode("tiktoken_encode.js", {"gpt2"}, corpus().texts, dir);
  });
  return c;
}

const Compared& ours_trained() {
  static const Compared c = compare_setup("trained", [](Compared& c, const std::string& dir) {
    trained().save(dir + "/tokenizer.json");
    c.ours = Tokenizer::load(dir + "/tokenizer.json");
    tlm::testing::write_file(dir + "/tiktoken.json", tiktoken_encoding_json(c.ours));
    c.hf = node_encode("hf_encode.js", {dir + "/tokenizer.json"}, corpus().texts, dir);
    c.tiktoken = node_encode("tiktoken_encode.js", {dir + "/tiktoken.json"}, corpus().texts, dir);
  });
  return c;
}

const Compared& hf_trained() {
  static const Compared c = compare_setup("hf_trained", [](Compared& c, const std::string& dir) {
    std::vector<std::string> args = {dir + "/tokenizer.json", "8192"};
    for (const std::string& f : tweeteval_files("train_text.txt")) args.push_back(f);
    node("hf_train.js", args);
    c.ours = Tokenizer::load(dir + "/tokenizer.json");
    c.hf = node_encode("hf_encode.js", {dir + "/tokenizer.json"}, corpus().texts, dir);
  });
  return c;
}

std::string ids_around(const Tokenizer& t, const Ids& ids, size_t at) {
  std::string s = "[";
  size_t from = at > 8 ? at - 8 : 0, to = std::min(ids.size(), at + 8);
  if (from > 0) s += "... ";
  for (size_t i = from; i < to; ++i) {
    if (i > from) s += ", ";
    s += std::to_string(ids[i]);
    if (ids[i] < t.vocab_size()) s += " '" + escaped(t.token_spelling(ids[i])) + "'";
  }
  if (to < ids.size()) s += ", ...";
  return s + "] (" + std::to_string(ids.size()) + " ids)";
}

// Expects ours == theirs on one group of the corpus; prints the first few differences: the text,
// both id lists around the first differing position, and that position.
void expect_same_ids(const Tokenizer& t, const std::vector<Ids>& ours, const std::vector<Ids>& theirs,
                     const std::string& group, const char* who) {
  auto [begin, end] = corpus().groups.at(group);
  ASSERT_EQ(ours.size(), corpus().texts.size());
  ASSERT_EQ(theirs.size(), corpus().texts.size());
  size_t mismatches = 0;
  for (size_t i = begin; i < end; ++i) {
    if (ours[i] == theirs[i]) continue;
    if (++mismatches > 5) continue;
    size_t at = 0;
    while (at < ours[i].size() && at < theirs[i].size() && ours[i][at] == theirs[i][at]) ++at;
    ADD_FAILURE() << group << " text " << i - begin << ": ours != " << who << "\n  text:   \""
                  << escaped(corpus().texts[i])
                  << "\"\n  first difference at id " << at << "\n  ours:   " << ids_around(t, ours[i], at)
                  << "\n  " << who << ": " << ids_around(t, theirs[i], at);
  }
  EXPECT_EQ(mismatches, 0u) << "of " << end - begin << " " << group << " texts differ between ours and " << who;
}

std::vector<Ids> encode_all(const Tokenizer& t) { return t.encode_batch(corpus().texts); }

constexpr const char* kGroups[] = {"tweeteval", "hard", "random"};

}  // namespace

// One test per tokenizer, each comparing all three groups of texts: under ctest every test is a
// process of its own, and the clients' runs are the expensive part.

TEST(TokenizerInterop, Gpt2OursEqualsHfAndTiktoken) {
  const Compared& c = gpt2();
  ASSERT_TRUE(c.error.empty()) << c.error;
  // GPT-2 ids anyone can check.
  EXPECT_EQ(c.ours.encode("Hello world"), (Ids{15496, 995}));
  EXPECT_EQ(c.ours.encode("<|endoftext|>"), (Ids{50256}));
  EXPECT_EQ(c.ours.eos_id(), 50256);
  EXPECT_EQ(c.ours.vocab_size(), 50257u);
  std::vector<Ids> ours = encode_all(c.ours);
  for (const char* group : kGroups) {
    expect_same_ids(c.ours, ours, c.hf, group, "HF");
    expect_same_ids(c.ours, ours, c.tiktoken, group, "tiktoken");
  }
}

TEST(TokenizerInterop, TrainedOursEqualsHfAndTiktoken) {
  const Compared& c = ours_trained();
  ASSERT_TRUE(c.error.empty()) << c.error;
  std::vector<Ids> ours = encode_all(c.ours);
  EXPECT_EQ(ours, encode_all(trained())) << "the tokenizer read back from its tokenizer.json encodes differently";
  for (const char* group : kGroups) {
    expect_same_ids(c.ours, ours, c.hf, group, "HF");
    expect_same_ids(c.ours, ours, c.tiktoken, group, "tiktoken");
  }
}

TEST(TokenizerInterop, HfTrainedOursEqualsHf) {
  const Compared& c = hf_trained();
  ASSERT_TRUE(c.error.empty()) << c.error;
  std::vector<Ids> ours = encode_all(c.ours);
  for (const char* group : kGroups) expect_same_ids(c.ours, ours, c.hf, group, "HF");
}

// --- the pre-tokenizer alone, on every code point of the planes that have assigned characters ---

// Each code point c goes into the probe "x{c}x1{c}1!{c}! {c}{c}'s": which neighbours c joins
// shows its class (letter, number, other, whitespace) as the GPT-2 regex sees it, and whether a
// contraction follows it. HF's piece boundaries inside each probe must equal ours.
TEST(TokenizerInterop, PretokenizerSplitsEveryCodePointLikeHf) {
  ASSERT_TRUE(node_problem().empty()) << node_problem();
  std::vector<uint32_t> cps;
  for (uint32_t cp = 0; cp < 0x110000; ++cp) {
    bool assigned_planes = cp < 0x40000 || (cp >= 0xE0000 && cp < 0xE1000);
    if ((cp < 0xD800 || cp > 0xDFFF) && (assigned_planes || cp % 97 == 0)) cps.push_back(cp);
  }
  constexpr size_t kPerText = 2048;
  std::vector<std::string> texts;
  std::vector<std::vector<std::pair<size_t, uint32_t>>> probes;  // per text: (probe start, code point)
  for (size_t i = 0; i < cps.size(); i += kPerText) {
    std::string t;
    probes.emplace_back();
    for (size_t k = i; k < std::min(cps.size(), i + kPerText); ++k) {
      std::string c;
      utf8_append(c, cps[k]);
      probes.back().emplace_back(t.size(), cps[k]);
      t += "x" + c + "x1" + c + "1!" + c + "! " + c + c + "'s\n";
    }
    texts.push_back(std::move(t));
  }
  tlm::testing::TempDir tmp;
  std::vector<Ids> hf;
  try {
    hf = node_encode("hf_pretokenize.js", {}, texts, tmp.path());
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  std::vector<uint32_t> differ;
  for (size_t t = 0; t < texts.size(); ++t) {
    std::vector<std::string_view> pieces;
    gpt2_pretokenize(texts[t], pieces);
    // Piece end offsets, ours and HF's, then compared probe by probe.
    std::vector<size_t> ours_ends, hf_ends;
    size_t end = 0;
    for (std::string_view p : pieces) ours_ends.push_back(end += p.size());
    end = 0;
    for (uint32_t len : hf[t]) hf_ends.push_back(end += len);
    const auto& pr = probes[t];
    for (size_t k = 0; k < pr.size(); ++k) {
      size_t lo = pr[k].first, hi = k + 1 < pr.size() ? pr[k + 1].first : texts[t].size();
      auto within = [&](const std::vector<size_t>& ends) {
        std::vector<size_t> v;
        for (auto it = std::upper_bound(ends.begin(), ends.end(), lo); it != ends.end() && *it <= hi; ++it)
          v.push_back(*it - lo);
        return v;
      };
      if (within(ours_ends) != within(hf_ends)) differ.push_back(pr[k].second);
    }
  }
  std::string ranges;  // "U+1C89..U+1C8A U+A7CB ..." (consecutive code points as one range)
  for (size_t i = 0, n = 0; i < differ.size() && n < 40; ++n) {
    size_t j = i;
    while (j + 1 < differ.size() && differ[j + 1] == differ[j] + 1) ++j;
    ranges += strprintf(" U+%04X", differ[i]) + (j > i ? strprintf("..U+%04X", differ[j]) : "");
    i = j + 1;
  }
  EXPECT_TRUE(differ.empty()) << differ.size() << " of " << cps.size()
                              << " code points split differently from HF (character class tables differ):" << ranges;
}

// --- pure C++ properties (no Node) ---

TEST(TokenizerProperties, DecodeEncodeIsIdentityOnArbitraryBytes) {
  const Tokenizer& t = trained();
  Rng r(7);
  size_t invalid = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string s = i % 2 ? tlm::testing::random_bytes(r) : tlm::testing::random_unicode(r, 60);
    invalid += !utf8_valid(s);
    Ids ids = t.encode(s);
    for (uint32_t id : ids) ASSERT_LT(id, t.vocab_size()) << escaped(s);
    ASSERT_EQ(t.decode(ids), s) << "case " << i << ": \"" << escaped(s) << "\"";
  }
  EXPECT_GT(invalid, 1000u);  // the generator really produces invalid UTF-8
  for (const std::string& s : tlm::testing::hard_strings()) ASSERT_EQ(t.decode(t.encode(s)), s) << escaped(s);
}

TEST(TokenizerProperties, EncodeBatchEqualsEncodeAndSaveLoadKeepsIds) {
  const Tokenizer& t = trained();
  tlm::testing::TempDir tmp;
  t.save(tmp / "tokenizer.json");
  Tokenizer u = Tokenizer::load(tmp / "tokenizer.json");
  EXPECT_EQ(u.vocab_size(), t.vocab_size());
  std::vector<std::string> texts = tlm::testing::hard_strings();
  Rng r(8);
  for (int i = 0; i < 2000; ++i) texts.push_back(tlm::testing::random_bytes(r));
  std::vector<Ids> batch = u.encode_batch(texts);
  ASSERT_EQ(batch.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    Ids one = t.encode(texts[i]);
    ASSERT_EQ(batch[i], one) << "\"" << escaped(texts[i]) << "\"";
  }
}
