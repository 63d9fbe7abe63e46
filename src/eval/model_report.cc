#include "eval/model_report.h"

#include <algorithm>

#include <fmt/format.h>

namespace kiln::eval {

namespace {

std::string mb(int64_t b) { return fmt::format("{:.2f} MB", b / 1e6); }

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

// A horizontal bar chart: one bar per folder, the value written after it.
std::string svg_bars(const std::string& title, const std::vector<std::pair<std::string, double>>& bars,
                     const std::string& unit_format) {
  const int label_w = 260, bar_w = 360, row_h = 26, top = 30;
  double top_value = 0;
  for (const auto& b : bars) top_value = std::max(top_value, b.second);
  const int h = top + row_h * (int)bars.size() + 10;
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">\n"
      "<text x=\"0\" y=\"18\" font-weight=\"bold\">{}</text>\n",
      label_w + bar_w + 120, h, escape(title), escape(title));
  for (size_t i = 0; i < bars.size(); ++i) {
    const int y = top + row_h * (int)i;
    const double w = top_value > 0 ? bar_w * bars[i].second / top_value : 0;
    // Long folder paths keep their end (the part that differs) and fit left of the bars.
    std::string label = bars[i].first;
    if (label.size() > 36) {
      size_t from = label.size() - 33;
      while (from < label.size() && ((unsigned char)label[from] & 0xC0) == 0x80) ++from;  // a whole UTF-8 character
      label = "..." + label.substr(from);
    }
    s += fmt::format(
        "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>"
        "<rect x=\"{}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"#4a7bd0\"/>"
        "<text x=\"{:.1f}\" y=\"{}\">{}</text>\n",
        label_w - 8, y + 16, escape(label), label_w, y + 3, w, row_h - 6, label_w + w + 6, y + 16,
        escape(fmt::format(fmt::runtime(unit_format), bars[i].second)));
  }
  return s + "</svg>\n";
}

}  // namespace

void ModelReport::compare_to_first() {
  if (rows.empty()) return;
  const ReportRow& base = rows[0];
  for (auto& r : rows) {
    r.speedup = r.ms_per_sample > 0 ? base.ms_per_sample / r.ms_per_sample : 0;
    r.size_ratio = base.size_bytes > 0 ? (double)r.size_bytes / base.size_bytes : 0;
  }
}

std::string ModelReport::markdown() const {
  std::string s = fmt::format("CPU: {}; kernels: {}, VNNI: {}, AMX: {}; threads: {}\n", machine.cpu, machine.isa,
                              machine.vnni ? "yes" : "no", machine.amx ? "yes" : "no", machine.threads);
  s += fmt::format("task: {}; data: {}; batch size: {}\n\n", task, data_file, batch_size);
  const std::string metric = rows.empty() ? "metric" : rows[0].metric;
  s += fmt::format("| folder | size | size ratio | {} | samples | ms total | ms/sample | speed-up |\n", metric);
  s += "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rows)
    s += fmt::format("| {} | {} | {:.3f} | {:.4f} | {} | {:.1f} | {:.2f} | {:.2f}x |\n", r.folder, mb(r.size_bytes),
                     r.size_ratio, r.metric_value, r.samples, r.ms_total, r.ms_per_sample, r.speedup);
  return s;
}

std::string ModelReport::html() const {
  const std::string metric = rows.empty() ? "metric" : rows[0].metric;
  std::vector<std::pair<std::string, double>> size, quality, time;
  for (const auto& r : rows) {
    size.push_back({r.folder, r.size_bytes / 1e6});
    quality.push_back({r.folder, r.metric_value});
    time.push_back({r.folder, r.ms_per_sample});
  }
  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>kiln report</title>\n"
      "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}"
      "svg{display:block;margin:1em 0;font-size:13px}</style>\n</head>\n<body>\n<h1>kiln report</h1>\n";
  s +=
      fmt::format("<p>CPU: {}; kernels: {}, VNNI: {}, AMX: {}; threads: {}<br>task: {}; data: {}; batch size: {}</p>\n",
                  escape(machine.cpu), escape(machine.isa), machine.vnni ? "yes" : "no", machine.amx ? "yes" : "no",
                  machine.threads, escape(task), escape(data_file), batch_size);
  s += fmt::format("<table>\n<tr><th>folder</th><th>size</th><th>size ratio</th><th>{}</th><th>samples</th>"
                   "<th>ms total</th><th>ms/sample</th><th>speed-up</th></tr>\n",
                   escape(metric));
  for (const auto& r : rows)
    s += fmt::format("<tr><td>{}</td><td>{}</td><td>{:.3f}</td><td>{:.4f}</td><td>{}</td><td>{:.1f}</td>"
                     "<td>{:.2f}</td><td>{:.2f}x</td></tr>\n",
                     escape(r.folder), mb(r.size_bytes), r.size_ratio, r.metric_value, r.samples, r.ms_total,
                     r.ms_per_sample, r.speedup);
  s += "</table>\n";
  s += svg_bars("size on disk (MB)", size, "{:.2f} MB");
  s += svg_bars(metric, quality, "{:.4f}");
  s += svg_bars("time per sample (ms)", time, "{:.2f} ms");
  return s + "</body>\n</html>\n";
}

nlohmann::json ModelReport::to_json() const {
  nlohmann::json j = machine.to_json();
  j["task"] = task;
  j["data"] = data_file;
  j["batch_size"] = batch_size;
  j["rows"] = nlohmann::json::array();
  for (const auto& r : rows) {
    nlohmann::json x = {{"folder", r.folder},         {"size_bytes", r.size_bytes},
                        {"metric", r.metric},         {r.metric, r.metric_value},
                        {"eval_samples", r.eval_samples}, {"samples", r.samples},
                        {"ms_total", r.ms_total},     {"ms_per_sample", r.ms_per_sample},
                        {"speedup", r.speedup},       {"size_ratio", r.size_ratio}};
    j["rows"].push_back(x);
  }
  return j;
}

}  // namespace kiln::eval
