// kiln:KvAppend(past [t, b, H, D], new) -> present [t + n, b, H, D], written by the session's
// time-major KV-cache rewrite (passes/kv_cache_time_major.cc), never saved. `new` is [b, H, n, D]
// (new_layout "bhsd", the exporter's Transpose output) or [b, n, H, D] ("bshd", the projection's
// Reshape view before that Transpose).
//
// Time-major, a cache grows at its end: the present is the past's bytes followed by the n new
// rows. So when the past lives in a buffer this kernel made with room to spare, and nothing has
// been appended after it yet (core/buffer.h, Buffer::try_extend), the new rows are written after it
// in place and the present is a longer view of the same buffer: a decoder step then copies n rows
// instead of the whole cache. Otherwise (the first step, a cache reordered or made by the caller,
// a past appended to twice) the past is copied into a new buffer with room for more steps.
#include <algorithm>
#include <cstring>

#include "core/buffer.h"
#include "runtime/kernels/cpu/common.h"
#include "runtime/registry.h"

namespace kiln::cpu {

namespace {

// Rows of room a new buffer gets beyond the present: half the present's length, at least 16, so
// a cache is copied O(log steps) times over a whole generation.
int64_t room_after(int64_t rows) { return std::max<int64_t>(16, rows / 2); }

class KvAppendKernel : public OpKernel {
 public:
  explicit KvAppendKernel(const KernelInfo& info) {
    const std::string l = info.node.attr_string("new_layout", "bhsd");
    KILN_CHECK(l == "bhsd" || l == "bshd", BadModel, "{}: new_layout must be bhsd or bshd, not '{}'", info.node.label(),
               l);
    token_major_ = l == "bshd";
  }

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& past = ctx.input(0);
    const Tensor& add = ctx.input(1);
    KILN_CHECK(past.dtype() == add.dtype() && past.dtype() != DType::String, BadInput,
               "{}: the cache is {} and the new rows {}; both must be the same numeric type", node.label(),
               dtype_name(past.dtype()), dtype_name(add.dtype()));
    KILN_CHECK(past.rank() == 4 && add.rank() == 4, BadInput,
               "{}: needs a rank-4 cache [sequence, batch, heads, head_dim] and rank-4 new rows, got {} and {}",
               node.label(), shape_str(past.shape()), shape_str(add.shape()));
    const int64_t B = add.dim(0), H = add.dim(token_major_ ? 2 : 1), n = add.dim(token_major_ ? 1 : 2), D = add.dim(3),
                  T = past.dim(0);
    KILN_CHECK(past.dim(1) == B && past.dim(2) == H && past.dim(3) == D, BadInput,
               "{}: the cache {} (time-major: [sequence, batch, heads, head_dim]) does not take new rows {}; feed "
               "the present.* output of the previous step as the next past_key_values.*",
               node.label(), shape_str(past.shape()), shape_str(add.shape()));
    const size_t es = dtype_size(past.dtype());
    const size_t row = (size_t)(B * H * D) * es;  // one time step of the cache
    const Shape shape{T + n, B, H, D};
    Tensor present;
    const std::shared_ptr<Buffer>& pb = past.buffer();
    if (T > 0 && pb && past.device().is_cpu() &&
        pb->try_extend(past.offset() + (size_t)T * row, past.offset() + (size_t)(T + n) * row)) {
      present = Tensor::view(past.dtype(), shape, pb, past.offset());
    } else {
      Tensor room(past.dtype(), {T + n + room_after(T + n), B, H, D});
      if (T > 0) std::memcpy(room.raw(), past.raw(), (size_t)T * row);
      room.buffer()->set_used_end(room.offset() + (size_t)(T + n) * row);
      present = Tensor::view(past.dtype(), shape, room.buffer(), room.offset());
    }
    // The new rows, after the past's.
    char* dst = static_cast<char*>(present.raw()) + (size_t)T * row;
    const char* src = static_cast<const char*>(add.raw());
    const size_t d_bytes = (size_t)D * es;
    for (int64_t t = 0; t < n; ++t)
      for (int64_t b = 0; b < B; ++b) {
        char* to = dst + ((size_t)(t * B + b) * H) * d_bytes;
        if (token_major_) {  // [b, n, H, D]: the H heads of (b, t) are one run
          std::memcpy(to, src + ((size_t)(b * n + t) * H) * d_bytes, (size_t)H * d_bytes);
        } else {  // [b, H, n, D]
          for (int64_t h = 0; h < H; ++h)
            std::memcpy(to + (size_t)h * d_bytes, src + ((size_t)(b * H + h) * n + t) * d_bytes, d_bytes);
        }
      }
    ctx.set_output(0, std::move(present));
  }

 private:
  bool token_major_ = false;
};

}  // namespace

KILN_REGISTER_KERNELS(register_kv_append_kernels) {
  r.add({DeviceType::Cpu, "kiln", "KvAppend", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<KvAppendKernel>(info); });
}

}  // namespace kiln::cpu
