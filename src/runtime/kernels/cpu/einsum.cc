// Einsum: a sum of products over the labelled axes of the inputs ("bij,bjk->bik", "...ii->...i",
// implicit output "ij,jk"). Repeated labels in one operand take its diagonal; "..." stands for the
// broadcast leading dims. Computed by one walk over every combination of label values, so it is
// meant for the small contractions models keep as Einsum, not for large matmuls.
#include <algorithm>
#include <cctype>
#include <map>

#include "runtime/kernels/cpu/elementwise.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

constexpr int kEllipsisBase = 256;  // label ids for the dims under "..." (letters use their char)

struct Equation {
  std::vector<std::string> inputs;  // terms, spaces removed
  std::string output;
  bool explicit_output = false;
};

Equation parse_equation(const std::string& eq, const Node& node) {
  std::string s;
  for (char c : eq)
    if (c != ' ') s += c;
  Equation e;
  std::string lhs = s;
  if (auto p = s.find("->"); p != std::string::npos) {
    lhs = s.substr(0, p);
    e.output = s.substr(p + 2);
    e.explicit_output = true;
  }
  size_t start = 0;
  while (true) {
    size_t c = lhs.find(',', start);
    e.inputs.push_back(lhs.substr(start, c == std::string::npos ? std::string::npos : c - start));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  auto valid = [](const std::string& t) {
    for (size_t i = 0; i < t.size(); ++i) {
      if (t.compare(i, 3, "...") == 0) {
        i += 2;
        continue;
      }
      if (!std::isalpha((unsigned char)t[i])) return false;
    }
    return true;
  };
  for (const auto& t : e.inputs)
    KILN_CHECK(valid(t), BadModel, "{}: cannot read the einsum term '{}' in '{}'", node.label(), t, eq);
  KILN_CHECK(valid(e.output), BadModel, "{}: cannot read the einsum output '{}' in '{}'", node.label(), e.output, eq);
  return e;
}

// Label ids of one term for a tensor of `rank` dims; "..." becomes the last `ell` of E ellipsis ids.
std::vector<int> term_labels(const std::string& t, int rank, int E, const Node& node) {
  int letters = 0;
  bool has_ell = false;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t.compare(i, 3, "...") == 0) {
      has_ell = true;
      i += 2;
    } else {
      ++letters;
    }
  }
  int ell = has_ell ? rank - letters : 0;
  KILN_CHECK(ell >= 0 && (has_ell || letters == rank), BadInput,
             "{}: einsum term '{}' does not match an input of rank {}", node.label(), t, rank);
  std::vector<int> ids;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t.compare(i, 3, "...") == 0) {
      for (int j = 0; j < ell; ++j) ids.push_back(kEllipsisBase + E - ell + j);
      i += 2;
    } else {
      ids.push_back((unsigned char)t[i]);
    }
  }
  return ids;
}

class EinsumKernel : public OpKernel {
 public:
  explicit EinsumKernel(const KernelInfo& info)
      : eq_(parse_equation(info.node.attr_string("equation", ""), info.node)) {}

  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const size_t k = ctx.num_inputs();
    KILN_CHECK(k == eq_.inputs.size(), BadModel, "{}: the equation has {} operands but the node {} inputs",
               node.label(), eq_.inputs.size(), k);
    DType dt = ctx.input(0).dtype();
    // Ellipsis rank: the most dims any operand's "..." covers.
    int E = 0;
    for (size_t i = 0; i < k; ++i) {
      const std::string& t = eq_.inputs[i];
      if (t.find("...") == std::string::npos) continue;
      int letters = (int)t.size() - 3;
      E = std::max(E, ctx.input(i).rank() - letters);
    }
    std::vector<std::vector<int>> labels(k);
    std::map<int, int64_t> size;
    std::map<int, int> count;
    for (size_t i = 0; i < k; ++i) {
      const Tensor& x = ctx.input(i);
      KILN_CHECK(x.dtype() == dt, BadInput, "{}: inputs must share one type", node.label());
      labels[i] = term_labels(eq_.inputs[i], x.rank(), E, node);
      for (int d = 0; d < x.rank(); ++d) {
        int l = labels[i][d];
        int64_t n = x.dim(d);
        auto it = size.find(l);
        if (it == size.end() || it->second == 1) size[l] = n;
        else KILN_CHECK(n == it->second || n == 1, BadInput, "{}: label '{}' has sizes {} and {}", node.label(),
                        l < kEllipsisBase ? std::string(1, (char)l) : std::string("..."), it->second, n);
        count[l]++;
      }
    }
    std::vector<int> out_labels;
    if (eq_.explicit_output) {
      bool out_ell = eq_.output.find("...") != std::string::npos;
      int out_letters = (int)eq_.output.size() - (out_ell ? 3 : 0);
      out_labels = term_labels(eq_.output, out_letters + (out_ell ? E : 0), E, node);
      for (int l : out_labels)
        KILN_CHECK(size.count(l) || l >= kEllipsisBase, BadModel, "{}: output label '{}' is in no input",
                   node.label(), (char)l);
    } else {
      for (int j = 0; j < E; ++j) out_labels.push_back(kEllipsisBase + j);
      for (const auto& [l, c] : count)
        if (l < kEllipsisBase && c == 1) out_labels.push_back(l);
    }
    for (int l : out_labels)
      if (!size.count(l)) size[l] = 1;
    std::vector<int> all = out_labels;
    for (const auto& [l, _] : size)
      if (std::find(all.begin(), all.end(), l) == all.end()) all.push_back(l);
    const int L = (int)all.size();
    Shape dims(L), oshape;
    for (int j = 0; j < L; ++j) dims[j] = size[all[j]];
    for (int l : out_labels) oshape.push_back(size[l]);
    // Per operand, the element stride of each label (summed for repeated labels; 0 when broadcast).
    std::vector<std::vector<int64_t>> stride(k, std::vector<int64_t>(L, 0));
    for (size_t i = 0; i < k; ++i) {
      auto cs = contiguous_strides(ctx.input(i).shape());
      for (int d = 0; d < ctx.input(i).rank(); ++d) {
        int j = (int)(std::find(all.begin(), all.end(), labels[i][d]) - all.begin());
        if (ctx.input(i).dim(d) != 1) stride[i][j] += cs[d];
      }
    }
    const int64_t out_n = shape_numel(oshape);
    int64_t inner_n = 1;
    for (int j = (int)out_labels.size(); j < L; ++j) inner_n *= dims[j];
    Tensor& y = ctx.allocate_output(0, dt, oshape);
    dispatch_numeric(dt, [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_same_v<T, bool>) {
        throw BadInput(fmt::format("{}: bool inputs are not supported", node.label()));
      } else {
        using A = std::conditional_t<is_float_v<T>, double, int64_t>;
        std::vector<const T*> p(k);
        for (size_t i = 0; i < k; ++i) p[i] = ctx.input(i).template data<T>();
        T* py = y.data<T>();
        const int O = (int)out_labels.size();
        parallel_for(out_n, inner_n * (long)k, [&](long b, long e) {
          std::vector<int64_t> idx(L, 0);
          std::vector<int64_t> off(k);
          for (long o = b; o < e; ++o) {
            // output index -> idx[0..O)
            int64_t rem = o;
            for (int j = O - 1; j >= 0; --j) {
              idx[j] = rem % dims[j];
              rem /= dims[j];
            }
            for (int j = O; j < L; ++j) idx[j] = 0;
            A acc = 0;
            for (int64_t t = 0; t < inner_n; ++t) {
              A prod = 1;
              for (size_t i = 0; i < k; ++i) {
                int64_t of = 0;
                for (int j = 0; j < L; ++j) of += idx[j] * stride[i][j];
                prod *= (A)(ComputeT<T>)p[i][of];
              }
              acc += prod;
              for (int j = L - 1; j >= O; --j) {
                if (++idx[j] < dims[j]) break;
                idx[j] = 0;
              }
            }
            py[o] = to_storage<T>((ComputeT<T>)acc);
          }
        });
      }
    });
  }

 private:
  Equation eq_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_einsum_kernels) {
  r.add({DeviceType::Cpu, "", "Einsum", 12, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<EinsumKernel>(info); });
}

}  // namespace kiln::cpu
