// The CPU emulation of the CUDA runtime (see include/cuda_runtime.h): the fiber scheduler that
// runs the threads of a block, the barriers between them, and host memory posing as device
// memory. Blocks run one after another on the calling thread; inside a block, fibers run in
// turn until each reaches a barrier or exits, then the barrier whose participants have all
// arrived is released. A barrier that can never be released (a thread exited, or waits at a
// different barrier) is a bug in the kernel and aborts with a message.
//
// Fibers switch with a few lines of x86-64 assembly (callee-saved registers and the stack
// pointer) rather than swapcontext, which makes a system call per switch to save the signal
// mask: warp shuffles switch every lane twice, and the emulated tests spent most of their time
// in the kernel. Other architectures use ucontext.
#include <sys/mman.h>
#include <ucontext.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include "cublasLt.h"
#include "cuda_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#define TLM_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TLM_EMU_ASAN 1
#endif
#endif
#ifdef TLM_EMU_ASAN
extern "C" void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old, size_t* size_old);
#endif

#if defined(__x86_64__)
// tlm_emu_switch(&save, load): pushes the callee-saved registers, stores the stack pointer in
// *save, loads `load` and pops the registers saved there.
extern "C" void tlm_emu_switch(void** save, void* load);
asm(R"(
.pushsection .text
.globl tlm_emu_switch
.type tlm_emu_switch,@function
tlm_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size tlm_emu_switch,.-tlm_emu_switch
.popsection
)");
#define TLM_EMU_ASM_SWITCH 1
#endif

namespace tlm_emu {

namespace {
thread_local dim3 t_thread_idx, t_block_idx, t_block_dim, t_grid_dim;
}
const dim3& thread_idx() { return t_thread_idx; }
const dim3& block_idx() { return t_block_idx; }
const dim3& block_dim() { return t_block_dim; }
const dim3& grid_dim() { return t_grid_dim; }

void fatal(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "cuda emulator: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::abort();
}

namespace {

#ifdef TLM_EMU_ASAN
constexpr size_t kStack = 512 << 10;
#else
constexpr size_t kStack = 128 << 10;
#endif
constexpr size_t kStaticSmem = 48 << 10, kMaxSmem = 227 << 10;

enum class State { run, block_wait, warp_wait, done };

struct Fiber {
#ifdef TLM_EMU_ASM_SWITCH
  void* sp = nullptr;
#else
  ucontext_t ctx;
#endif
  dim3 tid;
  State state = State::run;
  void* fake_stack = nullptr;
};

struct Scheduler {
#ifdef TLM_EMU_ASM_SWITCH
  void* main_sp = nullptr;
#else
  ucontext_t main;
#endif
  std::vector<Fiber> fibers;
  char* stacks = nullptr;
  size_t stacks_bytes = 0;
  int current = -1;
  const std::function<void()>* body = nullptr;
  std::vector<uint64_t> exchange;  // one slot per thread, for the shuffles
  std::vector<unsigned char> smem;
  const void* main_stack = nullptr;
  size_t main_stack_size = 0;

  ~Scheduler() {
    if (stacks) munmap(stacks, stacks_bytes);
  }
  Fiber& me() { return fibers[current]; }
  int warp_of(int i) const { return i / 32; }

  // Fiber -> scheduler.
  void yield() {
    Fiber& f = me();
#ifdef TLM_EMU_ASAN
    __sanitizer_start_switch_fiber(f.state == State::done ? nullptr : &f.fake_stack, main_stack, main_stack_size);
#endif
#ifdef TLM_EMU_ASM_SWITCH
    tlm_emu_switch(&f.sp, main_sp);
#else
    swapcontext(&f.ctx, &main);
#endif
#ifdef TLM_EMU_ASAN
    __sanitizer_finish_switch_fiber(f.fake_stack, &main_stack, &main_stack_size);
#endif
  }
  static void entry();
  void run_block();
};

thread_local Scheduler sched;
thread_local size_t launch_smem = 0;
std::mutex attr_mutex;
std::map<const void*, int> max_dynamic_smem;  // kernel -> cudaFuncAttributeMaxDynamicSharedMemorySize
thread_local cudaError_t last_error = cudaSuccess;

void Scheduler::entry() {
  Scheduler& s = sched;
#ifdef TLM_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &s.main_stack, &s.main_stack_size);
#endif
  (*s.body)();
  s.me().state = State::done;
  s.yield();  // never resumed
}

void Scheduler::run_block() {
  const int n = int(t_block_dim.x * t_block_dim.y * t_block_dim.z);
  fibers.assign(n, Fiber{});
  exchange.assign(n, 0);
  for (int i = 0; i < n; i++) {
    Fiber& f = fibers[i];
    f.tid = dim3(i % t_block_dim.x, (i / t_block_dim.x) % t_block_dim.y, i / (t_block_dim.x * t_block_dim.y));
#ifdef TLM_EMU_ASM_SWITCH
    // The first switch pops six zero registers and "returns" into entry, with the stack
    // aligned as at a call (entry never returns: it switches away when the thread is done).
    auto* sp = reinterpret_cast<uint64_t*>(stacks + size_t(i + 1) * kStack);
    *--sp = 0;
    *--sp = reinterpret_cast<uint64_t>(&Scheduler::entry);
    for (int r = 0; r < 6; r++) *--sp = 0;
    f.sp = sp;
#else
    getcontext(&f.ctx);
    f.ctx.uc_stack.ss_sp = stacks + size_t(i) * kStack;
    f.ctx.uc_stack.ss_size = kStack;
    f.ctx.uc_link = nullptr;
    makecontext(&f.ctx, &Scheduler::entry, 0);
#endif
  }
  for (;;) {
    for (int i = 0; i < n; i++) {
      if (fibers[i].state != State::run) continue;
      current = i;
      t_thread_idx = fibers[i].tid;
#ifdef TLM_EMU_ASAN
      void* fake = nullptr;
      __sanitizer_start_switch_fiber(&fake, stacks + size_t(i) * kStack, kStack);
#endif
#ifdef TLM_EMU_ASM_SWITCH
      tlm_emu_switch(&main_sp, fibers[i].sp);
#else
      swapcontext(&main, &fibers[i].ctx);
#endif
#ifdef TLM_EMU_ASAN
      __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    }
    // Every fiber now waits at a barrier or is done. Release the warps whose live lanes all
    // wait at the warp barrier; failing that, the block barrier if every live thread is there.
    bool released = false;
    int live = 0, at_block = 0;
    for (int w = 0; w * 32 < n; w++) {
      int lanes = 0, waiting = 0;
      for (int i = w * 32; i < std::min(n, w * 32 + 32); i++) {
        if (fibers[i].state == State::done) continue;
        lanes++;
        waiting += fibers[i].state == State::warp_wait;
      }
      if (lanes > 0 && waiting == lanes) {
        for (int i = w * 32; i < std::min(n, w * 32 + 32); i++)
          if (fibers[i].state == State::warp_wait) fibers[i].state = State::run;
        released = true;
      }
    }
    if (released) continue;
    for (const Fiber& f : fibers) {
      live += f.state != State::done;
      at_block += f.state == State::block_wait;
    }
    if (live == 0) break;
    if (at_block == live && live == n) {
      for (Fiber& f : fibers) f.state = State::run;
      continue;
    }
    if (at_block == live)
      fatal("block (%u,%u,%u): __syncthreads reached by %d threads while %d had exited", t_block_idx.x, t_block_idx.y,
            t_block_idx.z, live, n - live);
    fatal("block (%u,%u,%u): deadlock: %d threads at __syncthreads, %d at a warp barrier whose warp is elsewhere",
          t_block_idx.x, t_block_idx.y, t_block_idx.z, at_block, live - at_block);
  }
}

void check_ptr(const void* p, const char* what) {
  if (!p) fatal("%s: null pointer", what);
}

}  // namespace

void launch(const void* kernel, dim3 grid, dim3 block, size_t smem, const std::function<void()>& body) {
  const size_t n = size_t(block.x) * block.y * block.z;
  if (n == 0 || n > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 ||
      grid.z > 65535) {
    last_error = cudaErrorInvalidConfiguration;
    return;
  }
  size_t allowed = kStaticSmem;
  {
    std::lock_guard<std::mutex> lock(attr_mutex);
    auto it = max_dynamic_smem.find(kernel);
    if (it != max_dynamic_smem.end()) allowed = size_t(it->second);
  }
  if (smem > allowed) {
    last_error = cudaErrorInvalidValue;  // what the device reports: too much shared memory
    return;
  }
  Scheduler& s = sched;
  if (s.current >= 0) fatal("a kernel launched another kernel (no dynamic parallelism here)");
  if (s.stacks_bytes < n * kStack) {
    if (s.stacks) munmap(s.stacks, s.stacks_bytes);
    s.stacks_bytes = n * kStack;
    void* m = mmap(nullptr, s.stacks_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) fatal("cannot map %zu bytes of fiber stacks", s.stacks_bytes);
    s.stacks = static_cast<char*>(m);
  }
  s.body = &body;
  launch_smem = smem;
  s.smem.assign(std::max<size_t>(smem, 1) + 128, 0xff);
  t_grid_dim = grid;
  t_block_dim = block;
  for (unsigned z = 0; z < grid.z; z++)
    for (unsigned y = 0; y < grid.y; y++)
      for (unsigned x = 0; x < grid.x; x++) {
        t_block_idx = dim3(x, y, z);
        std::fill(s.smem.begin(), s.smem.end(), 0xff);  // shared memory starts as garbage
        s.run_block();
      }
  s.current = -1;
  s.body = nullptr;
}

void* dynamic_smem() {
  uintptr_t p = reinterpret_cast<uintptr_t>(sched.smem.data());
  return reinterpret_cast<void*>((p + 127) & ~uintptr_t(127));
}

void sync_block() {
  sched.me().state = State::block_wait;
  sched.yield();
}

void sync_warp() {
  sched.me().state = State::warp_wait;
  sched.yield();
}

int lane_id() { return sched.current % 32; }

void exchange(const void* value, size_t bytes, int src_lane, void* out) {
  if (bytes > sizeof(uint64_t)) fatal("shuffle of %zu bytes", bytes);
  Scheduler& s = sched;
  std::memcpy(&s.exchange[s.current], value, bytes);
  sync_warp();
  int src = (s.current / 32) * 32 + src_lane;
  if (src >= int(s.fibers.size()) || s.fibers[src].state == State::done)
    fatal("shuffle reads lane %d, which does not take part", src_lane);
  std::memcpy(out, &s.exchange[src], bytes);
  sync_warp();
}

}  // namespace tlm_emu

// --- runtime API ---
namespace {
std::mutex alloc_mutex;
std::map<void*, size_t> allocations;
cudaError_t fail(cudaError_t e) { return tlm_emu::last_error = e; }
}  // namespace

cudaError_t tlm_emu_set_max_dynamic_smem(const void* kernel, int bytes) {
  if (bytes < 0 || size_t(bytes) > tlm_emu::kMaxSmem) return fail(cudaErrorInvalidValue);
  std::lock_guard<std::mutex> lock(tlm_emu::attr_mutex);
  tlm_emu::max_dynamic_smem[kernel] = bytes;
  return cudaSuccess;
}

const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    default: return "unspecified launch failure";
  }
}
const char* cudaGetErrorName(cudaError_t e) { return cudaGetErrorString(e); }
cudaError_t cudaGetLastError() {
  cudaError_t e = tlm_emu::last_error;
  tlm_emu::last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() { return tlm_emu::last_error; }
cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : fail(cudaErrorInvalidValue); }
cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "CPU emulation of a CUDA device");
  p->totalGlobalMem = size_t(4) << 30;
  p->multiProcessorCount = 1;
  p->major = 9;
  p->sharedMemPerBlockOptin = tlm_emu::kMaxSmem;
  return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t* f, size_t* t) {
  *f = *t = size_t(4) << 30;
  return cudaSuccess;
}
cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = std::aligned_alloc(256, (std::max<size_t>(bytes, 1) + 255) / 256 * 256);
  if (!*p) return fail(cudaErrorMemoryAllocation);
  std::memset(*p, 0xff, bytes);  // device memory starts as garbage: NaN as float or bf16
  std::lock_guard<std::mutex> lock(alloc_mutex);
  allocations[*p] = bytes;
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  {
    std::lock_guard<std::mutex> lock(alloc_mutex);
    if (!allocations.erase(p)) return fail(cudaErrorInvalidValue);
  }
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, size_t bytes) {
  *p = std::malloc(std::max<size_t>(bytes, 1));
  return *p ? cudaSuccess : fail(cudaErrorMemoryAllocation);
}
cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  if (bytes) tlm_emu::check_ptr(dst, "cudaMemcpy destination"), tlm_emu::check_ptr(src, "cudaMemcpy source");
  if (bytes) std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
  if (bytes) tlm_emu::check_ptr(p, "cudaMemset"), std::memset(p, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
cudaError_t cudaStreamCreate(cudaStream_t* s) {
  *s = nullptr;
  return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { return cudaStreamCreate(s); }
cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
