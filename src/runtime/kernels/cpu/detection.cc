// Detection-model ops: NonMaxSuppression, RoiAlign and MaxRoiPool.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "runtime/kernels/cpu/common.h"
#include "runtime/registry.h"

namespace kiln::cpu {
namespace {

struct Box {
  double y1, x1, y2, x2;
};

Box read_box(const Tensor& boxes, int64_t at, bool center) {
  double a = boxes.item_f64(at), b = boxes.item_f64(at + 1), c = boxes.item_f64(at + 2), d = boxes.item_f64(at + 3);
  if (center) {  // [x_center, y_center, width, height]
    return {b - d / 2, a - c / 2, b + d / 2, a + c / 2};
  }
  // [y1, x1, y2, x2], corners in either order
  return {std::min(a, c), std::min(b, d), std::max(a, c), std::max(b, d)};
}

double iou(const Box& p, const Box& q) {
  double ih = std::min(p.y2, q.y2) - std::max(p.y1, q.y1), iw = std::min(p.x2, q.x2) - std::max(p.x1, q.x1);
  if (ih <= 0 || iw <= 0) return 0;
  double inter = ih * iw;
  double uni = (p.y2 - p.y1) * (p.x2 - p.x1) + (q.y2 - q.y1) * (q.x2 - q.x1) - inter;
  return uni > 0 ? inter / uni : 0;
}

// Greedy suppression per batch and class: highest score first (lower index on ties); a box is kept
// when its IoU with every kept box is at most iou_threshold.
class NonMaxSuppressionKernel : public OpKernel {
 public:
  explicit NonMaxSuppressionKernel(const KernelInfo& info)
      : center_(info.node.attr_int("center_point_box", 0) != 0) {}
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& boxes = ctx.input(0);
    const Tensor& scores = ctx.input(1);
    KILN_CHECK(boxes.rank() == 3 && boxes.shape()[2] == 4 && scores.rank() == 3 &&
                   scores.shape()[0] == boxes.shape()[0] && scores.shape()[2] == boxes.shape()[1],
               BadInput, "{}: boxes {} and scores {} must be [B, N, 4] and [B, C, N]", node.label(),
               shape_str(boxes.shape()), shape_str(scores.shape()));
    int64_t max_out = ctx.has_input(2) && ctx.input(2).numel() ? ctx.input(2).item_i64(0) : 0;
    double iou_th = ctx.has_input(3) && ctx.input(3).numel() ? ctx.input(3).item_f64(0) : 0.0;
    bool has_score_th = ctx.has_input(4) && ctx.input(4).numel();
    double score_th = has_score_th ? ctx.input(4).item_f64(0) : 0.0;
    int64_t B = boxes.shape()[0], N = boxes.shape()[1], C = scores.shape()[1];
    std::vector<int64_t> out;
    for (int64_t b = 0; b < B; ++b) {
      std::vector<Box> bx(N);
      for (int64_t i = 0; i < N; ++i) bx[i] = read_box(boxes, (b * N + i) * 4, center_);
      for (int64_t c = 0; c < C; ++c) {
        std::vector<int64_t> cand;
        auto score = [&](int64_t i) { return scores.item_f64((b * C + c) * N + i); };
        for (int64_t i = 0; i < N; ++i)
          if (!has_score_th || score(i) > score_th) cand.push_back(i);
        std::stable_sort(cand.begin(), cand.end(), [&](int64_t p, int64_t q) { return score(p) > score(q); });
        std::vector<int64_t> kept;
        for (int64_t i : cand) {
          if ((int64_t)kept.size() >= max_out) break;
          bool ok = true;
          for (int64_t k : kept)
            if (iou(bx[i], bx[k]) > iou_th) { ok = false; break; }
          if (ok) kept.push_back(i);
        }
        for (int64_t k : kept) {
          out.push_back(b);
          out.push_back(c);
          out.push_back(k);
        }
      }
    }
    ctx.set_output(0, Tensor::from_vector<int64_t>({(int64_t)out.size() / 3, 3}, out));
  }

 private:
  bool center_;
};

// RoiAlign: average (or max) of bilinear samples on a regular grid inside each bin of each region.
class RoiAlignKernel : public OpKernel {
 public:
  explicit RoiAlignKernel(const KernelInfo& info) {
    const Node& n = info.node;
    max_mode_ = n.attr_string("mode", "avg") == "max";
    oh_ = n.attr_int("output_height", 1);
    ow_ = n.attr_int("output_width", 1);
    ratio_ = n.attr_int("sampling_ratio", 0);
    scale_ = n.attr_float("spatial_scale", 1.0f);
    half_pixel_ = info.opset >= 16 && n.attr_string("coordinate_transformation_mode", "half_pixel") == "half_pixel";
  }
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& rois = ctx.input(1);
    const Tensor& bidx = ctx.input(2);
    KILN_CHECK(x.rank() == 4 && rois.rank() == 2 && rois.shape()[1] == 4, BadInput,
               "{}: X must be [N, C, H, W] and rois [R, 4]", node.label());
    int64_t R = rois.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
    Tensor out(DType::F64, {R, C, oh_, ow_});
    double* op = out.data<double>();
    Tensor xd = x.cast(DType::F64);
    const double* xp = xd.data<double>();
    double off = half_pixel_ ? 0.5 : 0.0;
    for (int64_t r = 0; r < R; ++r) {
      int64_t b = bidx.item_i64(r);
      KILN_CHECK(b >= 0 && b < x.shape()[0], BadInput, "{}: batch index {} is out of range", node.label(), b);
      double sw = rois.item_f64(r * 4) * scale_ - off, sh = rois.item_f64(r * 4 + 1) * scale_ - off;
      double ew = rois.item_f64(r * 4 + 2) * scale_ - off, eh = rois.item_f64(r * 4 + 3) * scale_ - off;
      double rw = ew - sw, rh = eh - sh;
      if (!half_pixel_) {
        rw = std::max(rw, 1.0);
        rh = std::max(rh, 1.0);
      }
      double bh = rh / oh_, bw = rw / ow_;
      int64_t gh = ratio_ > 0 ? ratio_ : (int64_t)std::ceil(rh / oh_);
      int64_t gw = ratio_ > 0 ? ratio_ : (int64_t)std::ceil(rw / ow_);
      double count = std::max<int64_t>(gh * gw, 1);
      for (int64_t c = 0; c < C; ++c) {
        const double* plane = xp + (b * C + c) * H * W;
        for (int64_t ph = 0; ph < oh_; ++ph)
          for (int64_t pw = 0; pw < ow_; ++pw) {
            double acc = 0;
            bool first = true;
            for (int64_t iy = 0; iy < gh; ++iy)
              for (int64_t ix = 0; ix < gw; ++ix) {
                double y = sh + ph * bh + (iy + 0.5) * bh / gh;
                double xx = sw + pw * bw + (ix + 0.5) * bw / gw;
                double v = 0;
                if (!(y < -1.0 || y > H || xx < -1.0 || xx > W)) {
                  y = std::max(y, 0.0);
                  xx = std::max(xx, 0.0);
                  int64_t yl = (int64_t)y, xl = (int64_t)xx, yh, xh;
                  if (yl >= H - 1) { yh = yl = H - 1; y = (double)yl; } else { yh = yl + 1; }
                  if (xl >= W - 1) { xh = xl = W - 1; xx = (double)xl; } else { xh = xl + 1; }
                  double ly = y - yl, lx = xx - xl, hy = 1 - ly, hx = 1 - lx;
                  double v1 = hy * hx * plane[yl * W + xl], v2 = hy * lx * plane[yl * W + xh];
                  double v3 = ly * hx * plane[yh * W + xl], v4 = ly * lx * plane[yh * W + xh];
                  v = max_mode_ ? std::max(std::max(v1, v2), std::max(v3, v4)) : v1 + v2 + v3 + v4;
                }
                if (max_mode_) acc = first ? v : std::max(acc, v);
                else acc += v;
                first = false;
              }
            op[((r * C + c) * oh_ + ph) * ow_ + pw] = max_mode_ ? acc : acc / count;
          }
      }
    }
    ctx.set_output(0, out.cast(x.dtype()));
  }

 private:
  bool max_mode_, half_pixel_;
  int64_t oh_, ow_, ratio_;
  float scale_;
};

// MaxRoiPool (opset 1, Caffe's ROI pooling): rois are [batch, x1, y1, x2, y2] scaled and rounded to
// pixels; each of the pooled_shape bins takes the max of its pixels (0 for an empty bin).
class MaxRoiPoolKernel : public OpKernel {
 public:
  explicit MaxRoiPoolKernel(const KernelInfo& info)
      : pooled_(info.node.attr_ints("pooled_shape")), scale_(info.node.attr_float("spatial_scale", 1.0f)) {
    KILN_CHECK(pooled_.size() == 2 && pooled_[0] > 0 && pooled_[1] > 0, BadModel,
               "{}: pooled_shape must be two positive sizes", info.node.label());
  }
  void compute(KernelContext& ctx) override {
    const Node& node = ctx.node();
    const Tensor& x = ctx.input(0);
    const Tensor& rois = ctx.input(1);
    KILN_CHECK(x.rank() == 4 && rois.rank() == 2 && rois.shape()[1] == 5, BadInput,
               "{}: X must be [N, C, H, W] and rois [R, 5]", node.label());
    int64_t R = rois.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
    int64_t PH = pooled_[0], PW = pooled_[1];
    Tensor xd = x.cast(DType::F64);
    const double* xp = xd.data<double>();
    Tensor out(DType::F64, {R, C, PH, PW});
    double* op = out.data<double>();
    for (int64_t r = 0; r < R; ++r) {
      int64_t b = (int64_t)rois.item_f64(r * 5);
      KILN_CHECK(b >= 0 && b < x.shape()[0], BadInput, "{}: batch index {} is out of range", node.label(), b);
      auto px = [&](int k) { return (int64_t)std::round(rois.item_f64(r * 5 + k) * scale_); };
      int64_t sw = px(1), sh = px(2), ew = px(3), eh = px(4);
      double bh = (double)std::max<int64_t>(eh - sh + 1, 1) / PH, bw = (double)std::max<int64_t>(ew - sw + 1, 1) / PW;
      for (int64_t c = 0; c < C; ++c) {
        const double* plane = xp + (b * C + c) * H * W;
        for (int64_t ph = 0; ph < PH; ++ph)
          for (int64_t pw = 0; pw < PW; ++pw) {
            int64_t hs = std::clamp<int64_t>((int64_t)std::floor(ph * bh) + sh, 0, H);
            int64_t he = std::clamp<int64_t>((int64_t)std::ceil((ph + 1) * bh) + sh, 0, H);
            int64_t ws = std::clamp<int64_t>((int64_t)std::floor(pw * bw) + sw, 0, W);
            int64_t we = std::clamp<int64_t>((int64_t)std::ceil((pw + 1) * bw) + sw, 0, W);
            double m = 0;
            bool any = false;
            for (int64_t h = hs; h < he; ++h)
              for (int64_t w = ws; w < we; ++w) {
                double v = plane[h * W + w];
                if (!any || v > m) m = v;
                any = true;
              }
            op[((r * C + c) * PH + ph) * PW + pw] = m;
          }
      }
    }
    ctx.set_output(0, out.cast(x.dtype()));
  }

 private:
  std::vector<int64_t> pooled_;
  float scale_;
};

}  // namespace

KILN_REGISTER_KERNELS(register_detection_kernels) {
  r.add({DeviceType::Cpu, "", "NonMaxSuppression", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<NonMaxSuppressionKernel>(info); });
  r.add({DeviceType::Cpu, "", "MaxRoiPool", 1, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<MaxRoiPoolKernel>(info); });
  r.add({DeviceType::Cpu, "", "RoiAlign", 10, kMaxOpset},
        [](const KernelInfo& info) { return std::make_unique<RoiAlignKernel>(info); });
}

}  // namespace kiln::cpu
