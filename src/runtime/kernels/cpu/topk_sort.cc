// TopK and Unique: ops that order elements.
#include <algorithm>
#include <map>
#include <numeric>

#include "runtime/kernels/cpu/common.h"
#include "runtime/kernels/cpu/movement.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

class TopKKernel : public OpKernel {
 public:
  explicit TopKKernel(const KernelInfo& info)
      : opset_(info.opset), axis_(info.node.attr_int("axis", -1)), largest_(info.node.attr_int("largest", 1) != 0),
        k_attr_(info.node.attr_int("k", -1)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    int64_t k = opset_ < 10 ? k_attr_ : ctx.input(1).item_i64(0);
    int axis = normalize_axis(axis_, x.rank(), node);
    int64_t n = x.shape()[axis];
    KILN_CHECK(k >= 0 && k <= n, BadInput, "{}: k = {} but axis {} has {} elements", node.label(), k, axis, n);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
    for (int d = axis + 1; d < x.rank(); ++d) inner *= x.shape()[d];
    Shape out = x.shape();
    out[axis] = k;
    Tensor& vals = ctx.allocate_output(0, x.dtype(), out);
    Tensor& idxs = ctx.allocate_output(1, DType::I64, out);
    int64_t* ip = idxs.data<int64_t>();
    dispatch_numeric(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* xp = x.data<T>();
      T* vp = vals.data<T>();
      std::vector<int64_t> order(n);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          auto at = [&](int64_t j) { return (double)xp[(o * n + j) * inner + i]; };
          std::iota(order.begin(), order.end(), 0);
          // ties: the lower index first
          auto cmp = [&](int64_t a, int64_t b) {
            double va = at(a), vb = at(b);
            if (va != vb) return largest_ ? va > vb : va < vb;
            return a < b;
          };
          std::partial_sort(order.begin(), order.begin() + k, order.end(), cmp);
          for (int64_t j = 0; j < k; ++j) {
            int64_t dst = (o * k + j) * inner + i;
            vp[dst] = xp[(o * n + order[j]) * inner + i];
            ip[dst] = order[j];
          }
        }
    });
  }

 private:
  int64_t opset_, axis_;
  bool largest_;
  int64_t k_attr_;
};

// Unique: distinct elements (or slices along `axis`), sorted or in order of first occurrence, with
// first-occurrence indices, the inverse mapping and counts.
class UniqueKernel : public OpKernel {
 public:
  explicit UniqueKernel(const KernelInfo& info)
      : sorted_(info.node.attr_int("sorted", 1) != 0), has_axis_(info.node.has_attr("axis")),
        axis_(info.node.attr_int("axis", 0)) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x0 = ctx.input(0);
    Tensor x = has_axis_ ? x0 : x0.reshape({x0.numel()});
    int axis = has_axis_ ? normalize_axis(axis_, x.rank(), node) : 0;
    int64_t n = x.shape()[axis], outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= x.shape()[d];
    for (int d = axis + 1; d < x.rank(); ++d) inner *= x.shape()[d];
    // Each slice j as a vector of element keys (doubles, or the strings).
    std::vector<int64_t> first, inverse(n), counts;
    std::vector<int64_t> slice_of_unique;
    dispatch_all(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* p = static_cast<const T*>(x.raw());
      using Key = std::conditional_t<std::is_same_v<T, std::string>, std::string, double>;
      auto key = [&](int64_t j) {
        std::vector<Key> k;
        k.reserve(outer * inner);
        for (int64_t o = 0; o < outer; ++o)
          for (int64_t i = 0; i < inner; ++i) {
            if constexpr (std::is_same_v<T, std::string>) k.push_back(p[(o * n + j) * inner + i]);
            else k.push_back((double)p[(o * n + j) * inner + i]);
          }
        return k;
      };
      std::map<std::vector<Key>, int64_t> seen;  // key -> unique id in order of first occurrence
      std::vector<std::vector<Key>> keys;
      for (int64_t j = 0; j < n; ++j) {
        auto k = key(j);
        auto it = seen.find(k);
        if (it == seen.end()) {
          int64_t id = (int64_t)first.size();
          seen.emplace(k, id);
          keys.push_back(k);
          first.push_back(j);
          counts.push_back(1);
          inverse[j] = id;
        } else {
          counts[it->second]++;
          inverse[j] = it->second;
        }
      }
      std::vector<int64_t> order(first.size());
      std::iota(order.begin(), order.end(), 0);
      if (sorted_) std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return keys[a] < keys[b]; });
      std::vector<int64_t> rank(order.size());
      for (size_t r = 0; r < order.size(); ++r) rank[order[r]] = (int64_t)r;
      std::vector<int64_t> f2, c2;
      for (int64_t id : order) {
        f2.push_back(first[id]);
        c2.push_back(counts[id]);
      }
      for (auto& v : inverse) v = rank[v];
      first = f2;
      counts = c2;
    });
    int64_t u = (int64_t)first.size();
    Shape out = x.shape();
    out[axis] = u;
    Tensor& y = ctx.allocate_output(0, x.dtype(), out);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t r = 0; r < u; ++r) copy_elements(y, (o * u + r) * inner, x, (o * n + first[r]) * inner, inner);
    if (ctx.num_outputs() > 1) ctx.set_output(1, Tensor::from_vector<int64_t>({u}, first));
    if (ctx.num_outputs() > 2) ctx.set_output(2, Tensor::from_vector<int64_t>({n}, inverse));
    if (ctx.num_outputs() > 3) ctx.set_output(3, Tensor::from_vector<int64_t>({u}, counts));
  }

 private:
  bool sorted_, has_axis_;
  int64_t axis_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_topk_sort_kernels) {
  r.add({DeviceType::Cpu, "", "TopK", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<TopKKernel>(info); });
  r.add({DeviceType::Cpu, "", "Unique", 11, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<UniqueKernel>(info); });
}

}  // namespace kiln::cpu
