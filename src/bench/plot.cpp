// SVG latency plot for `qwen3 bench serve --plot`: written by hand, no plotting library.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "bench/report.h"

namespace qwen3::bench {
namespace {

constexpr double kPanelW = 480, kPanelH = 350, kTop = 52;
constexpr double kLeft = 70, kRight = 24, kPanelTop = 50, kBottom = 44;

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// A round axis step giving about five ticks up to `max`.
double nice_step(double max) {
  if (!(max > 0)) return 1;
  const double raw = max / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (raw <= m * mag) return m * mag;
  }
  return 10 * mag;
}

std::string tick_label(double v) {
  return v >= 100 || v == std::floor(v) ? fmt::format("{:.0f}", v) : fmt::format("{:.3g}", v);
}

struct Panel {
  double x0, y0;  // top-left corner of the plotting area
  double w, h;
  double ymax;
  double px(double p) const { return x0 + p / 100.0 * w; }
  double py(double v) const { return y0 + h - std::min(v / ymax, 1.0) * h; }
};

// `title` in bold, `subtitle` (the summary numbers) under it.
void draw_axes(std::string& svg, const Panel& P, const std::string& title,
               const std::string& subtitle) {
  svg += fmt::format(
      "<text x=\"{0:.1f}\" y=\"{1:.1f}\" font-size=\"13\" font-weight=\"bold\">{2}</text>\n"
      "<text x=\"{0:.1f}\" y=\"{3:.1f}\" font-size=\"11\">{4}</text>\n",
      P.x0, P.y0 - 24, xml_escape(title), P.y0 - 9, xml_escape(subtitle));
  const double step = nice_step(P.ymax);
  for (double v = 0; v <= P.ymax * 1.0001; v += step) {
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#ddd\"/>"
        "<text x=\"{3:.1f}\" y=\"{4:.1f}\" font-size=\"11\" text-anchor=\"end\">{5}</text>\n",
        P.x0, P.py(v), P.x0 + P.w, P.x0 - 6, P.py(v) + 4, tick_label(v));
  }
  for (int p = 0; p <= 100; p += 10) {
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#eee\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" font-size=\"11\" text-anchor=\"middle\">{4}</text>\n",
        P.px(p), P.y0, P.y0 + P.h, P.y0 + P.h + 16, p);
  }
  svg += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"none\" "
      "stroke=\"#444\"/>\n<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" "
      "text-anchor=\"middle\">percentile</text>\n<text x=\"{:.1f}\" y=\"{:.1f}\" "
      "font-size=\"11\" transform=\"rotate(-90 {:.1f} {:.1f})\" text-anchor=\"middle\">ms</text>\n",
      P.x0, P.y0, P.w, P.h, P.x0 + P.w / 2, P.y0 + P.h + 32, P.x0 - 50, P.y0 + P.h / 2, P.x0 - 50,
      P.y0 + P.h / 2);
}

void draw_panel(std::string& svg, double left, double top, const std::string& name,
                std::vector<double> ms, const char* color) {
  std::sort(ms.begin(), ms.end());
  const double ymax_data = ms.empty() ? 1.0 : std::max(ms.back(), 1e-6);
  const double step = nice_step(ymax_data);
  Panel P{left + kLeft, top + kPanelTop, kPanelW - kLeft - kRight, kPanelH - kPanelTop - kBottom,
          std::ceil(ymax_data / step) * step};
  const Summary s = summarize(ms, std::vector<double>{90, 99});
  draw_axes(svg, P, fmt::format("{} (ms), {} samples", name, ms.size()),
            ms.empty() ? std::string("no samples")
                       : fmt::format("mean {:.2f}, median {:.2f}, p90 {:.2f}, p99 {:.2f}", s.mean,
                                     s.median, s.percentiles[0].second, s.percentiles[1].second));
  if (ms.empty()) return;
  std::string points;
  for (int p = 0; p <= 100; ++p) {
    points += fmt::format("{:.1f},{:.1f} ", P.px(p), P.py(percentile_sorted(ms, p)));
  }
  svg += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                     points, color);
  svg += fmt::format(
      "<line x1=\"{0:.1f}\" y1=\"{2:.1f}\" x2=\"{1:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
      "stroke-dasharray=\"5,4\"/><text x=\"{1:.1f}\" y=\"{4:.1f}\" font-size=\"10\" "
      "text-anchor=\"end\" fill=\"{3}\">mean</text>\n",
      P.x0, P.x0 + P.w, P.py(s.mean), color, P.py(s.mean) - 3);
  for (double p : {50.0, 90.0, 99.0}) {  // values are in the subtitle; short labels here
    const double v = percentile_sorted(ms, p);
    svg += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"/><text x=\"{:.1f}\" "
        "y=\"{:.1f}\" font-size=\"10\" text-anchor=\"end\">p{:.0f}</text>\n",
        P.px(p), P.py(v), color, P.px(p) - 4, P.py(v) - 6, p);
  }
}

}  // namespace

std::string latency_plot_svg(const ServeRun& run, const ServeRunInfo& info) {
  const LatencySamples s = latency_samples(run);
  const double width = 2 * kPanelW, height = kTop + 2 * kPanelH;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0:.0f}\" height=\"{1:.0f}\" "
      "viewBox=\"0 0 {0:.0f} {1:.0f}\" font-family=\"sans-serif\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  const std::string conc =
      info.max_concurrency ? std::to_string(*info.max_concurrency) : std::string("unlimited");
  const std::string rate =
      std::isinf(info.request_rate) ? "inf" : fmt::format("{}", info.request_rate);
  svg += fmt::format(
      "<text x=\"12\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>\n"
      "<text x=\"12\" y=\"38\" font-size=\"12\">{}</text>\n",
      xml_escape(fmt::format("qwen3 bench serve: {}", info.model_id)),
      xml_escape(fmt::format("{}{}, {} prompts ({}), request rate {}/s, max concurrency {}, {}",
                             info.base_url, info.endpoint, info.num_prompts, info.dataset_name,
                             rate, conc, info.date)));
  draw_panel(svg, 0, kTop, "TTFT", s.ttft_ms, "#1f77b4");
  draw_panel(svg, kPanelW, kTop, "TPOT", s.tpot_ms, "#ff7f0e");
  draw_panel(svg, 0, kTop + kPanelH, "ITL", s.itl_ms, "#2ca02c");
  draw_panel(svg, kPanelW, kTop + kPanelH, "E2E", s.e2el_ms, "#d62728");
  svg += "</svg>\n";
  return svg;
}

}  // namespace qwen3::bench
