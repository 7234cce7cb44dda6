#include "report.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>

namespace engine_sim {

pool_figures figures_of(const pool_trace& t) {
    pool_figures f;
    if (t.owned.empty() || t.capacity_pages <= 0) return f;
    std::int64_t owned = 0, ideal = 0;
    for (std::size_t s = 0; s < t.owned.size(); ++s) {
        owned += t.owned[s];
        ideal += t.ideal[s];
        f.peak_util = std::max(f.peak_util, double(t.owned[s]) / t.capacity_pages);
        if (t.ideal[s] > 0) f.worst_step_ratio = std::max(f.worst_step_ratio, double(t.owned[s]) / double(t.ideal[s]));
    }
    f.mean_util = double(owned) / double(t.capacity_pages) / double(t.owned.size());
    f.used_over_ideal = ideal > 0 ? double(owned) / double(ideal) : 0;
    return f;
}

time_figures times_of(const run_result& r) {
    time_figures f;
    if (r.step_ns.empty()) return f;
    std::vector<double> sorted = r.step_ns;
    std::sort(sorted.begin(), sorted.end());
    const auto at = [&](double q) { return sorted[static_cast<std::size_t>(q * double(sorted.size() - 1) + 0.5)]; };
    f.median_step = at(0.5);
    f.p99_step = at(0.99);
    const double total = std::accumulate(r.step_ns.begin(), r.step_ns.end(), 0.0);
    const double request_steps = std::accumulate(r.batch_size.begin(), r.batch_size.end(), 0.0);
    f.per_request_step = request_steps > 0 ? total / request_steps : 0;
    const double tables = std::accumulate(r.table_ns.begin(), r.table_ns.end(), 0.0);
    f.tables_per_request_step = request_steps > 0 ? tables / request_steps : 0;
    return f;
}

std::string format_bytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (std::fabs(bytes) >= 1024 && u < 4) bytes /= 1024, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
    return buf;
}

namespace {

std::string format_ns(double ns) {
    char buf[32];
    if (ns < 1000)
        std::snprintf(buf, sizeof buf, "%.0f ns", ns);
    else if (ns < 1e6)
        std::snprintf(buf, sizeof buf, "%.1f us", ns / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%.2f ms", ns / 1e6);
    return buf;
}

double seconds_now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

progress::progress(mode m, std::int64_t total_requests)
    : terminal_(m == mode::terminal || (m == mode::automatic && isatty(STDERR_FILENO))),
      off_(m == mode::off),
      total_(total_requests) {}

void progress::step(const run_result& r, std::int32_t running, std::int32_t waiting) {
    if (off_) return;
    if (terminal_) {
        const double now = seconds_now();
        if (now - last_draw_s_ < 0.1) return;  // redraw at most 10 times a second
        last_draw_s_ = now;
        std::fprintf(stderr, "\r\033[K[%s] step %lld  running %d  waiting %d  done %lld/%lld  preempted %lld",
                     r.layout.c_str(), static_cast<long long>(r.steps()), running, waiting,
                     static_cast<long long>(r.finished), static_cast<long long>(total_),
                     static_cast<long long>(r.preemptions));
        for (const pool_trace& t : r.pools)
            std::fprintf(stderr, "  %s %.0f%%", t.name.c_str(), 100.0 * t.owned.back() / t.capacity_pages);
        std::fflush(stderr);
        return;
    }
    while (next_decile_ <= 10 && r.finished * 10 >= next_decile_ * total_) {
        std::fprintf(stderr, "[%s] %3lld%% done: step %lld, %lld/%lld finished, %d running, %lld preempted\n",
                     r.layout.c_str(), static_cast<long long>(next_decile_ * 10), static_cast<long long>(r.steps()),
                     static_cast<long long>(r.finished), static_cast<long long>(total_), running,
                     static_cast<long long>(r.preemptions));
        ++next_decile_;
    }
    (void)waiting;
}

void progress::done(const run_result& r) {
    if (off_ || !terminal_) return;
    std::fprintf(stderr, "\r\033[K[%s] %lld steps, %lld/%lld finished\n", r.layout.c_str(),
                 static_cast<long long>(r.steps()), static_cast<long long>(r.finished), static_cast<long long>(total_));
}

void print_summary(std::FILE* out, const run_result& hybrid, const run_result* full_only) {
    const auto row = [&](const char* label, const std::string& a, const std::string& b) {
        std::fprintf(out, "  %-30s %-26s %s\n", label, a.c_str(), full_only ? b.c_str() : "");
    };
    const auto str = [](const char* fmt, auto... v) {
        char buf[96];
        std::snprintf(buf, sizeof buf, fmt, v...);
        return std::string(buf);
    };
    const auto mean_of = [](const std::vector<std::int32_t>& v) {
        return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    };
    const auto peak_of = [](const std::vector<std::int32_t>& v) {
        return v.empty() ? 0 : *std::max_element(v.begin(), v.end());
    };
    const run_result* runs[2] = {&hybrid, full_only};
    const auto both = [&](auto f) { return std::pair{f(*runs[0]), full_only ? f(*runs[1]) : std::string()}; };
    const auto put = [&](const char* label, auto f) {
        const auto [a, b] = both(f);
        row(label, a, b);
    };

    std::fprintf(out, "\n");
    row("", hybrid.layout, full_only ? full_only->layout : "");
    put("steps", [&](const run_result& r) { return str("%lld", static_cast<long long>(r.steps())); });
    put("requests finished", [&](const run_result& r) { return str("%lld", static_cast<long long>(r.finished)); });
    put("concurrency peak / mean",
        [&](const run_result& r) { return str("%d / %.1f", peak_of(r.running), mean_of(r.running)); });
    put("preemptions", [&](const run_result& r) { return str("%lld", static_cast<long long>(r.preemptions)); });
    for (const run_result* r : runs) {
        if (!r) continue;
        for (const pool_trace& t : r->pools) {
            const pool_figures f = figures_of(t);
            const std::string label = t.name + " pool util peak / mean";
            const std::string v = str("%.1f%% / %.1f%%", 100 * f.peak_util, 100 * f.mean_util);
            row(label.c_str(), r == &hybrid ? v : "-", r == &hybrid ? "-" : v);
        }
    }
    for (const run_result* r : runs) {
        if (!r) continue;
        for (const pool_trace& t : r->pools) {
            const pool_figures f = figures_of(t);
            const std::string label = t.name + " pool used / ideal pages";
            const std::string v = str("%.4f (worst step %.4f)", f.used_over_ideal, f.worst_step_ratio);
            row(label.c_str(), r == &hybrid ? v : "-", r == &hybrid ? "-" : v);
        }
    }
    put("KV bytes used / ideal", [&](const run_result& r) {
        return str("%.3f", r.ideal_bytes > 0 ? double(r.used_bytes) / double(r.ideal_bytes) : 0.0);
    });
    put("host time per step, median", [&](const run_result& r) { return format_ns(times_of(r).median_step); });
    put("host time per step, p99", [&](const run_result& r) { return format_ns(times_of(r).p99_step); });
    put("host time per request-step", [&](const run_result& r) { return format_ns(times_of(r).per_request_step); });
    put("  of which table emission",
        [&](const run_result& r) { return format_ns(times_of(r).tables_per_request_step); });
    put("invariant checks passed",
        [&](const run_result& r) { return str("%lld", static_cast<long long>(r.invariant_checks)); });
    if (full_only) print_verdict(out, hybrid, *full_only);
    std::fprintf(out,
                 "\n  legend  steps: forward passes until every request finished (fewer: the workload served sooner)\n"
                 "          concurrency: requests holding pages in a step, the run's peak and mean\n"
                 "          preemptions: requests evicted to free pages, recomputed from token 0 when readmitted\n"
                 "          util: pages owned / pool capacity\n"
                 "          used / ideal: pages (bytes) held over the fewest that the step's tokens need, summed over\n"
                 "          the run; for full-only the ideal is the hybrid layout's (docs/engine_sim.md)\n"
                 "          host time: CPU time of the step's pool calls and table emission (no forward pass)\n");
}

void print_verdict(std::FILE* out, const run_result& hybrid, const run_result& full_only) {
    for (const run_result* r : {&hybrid, &full_only})
        if (!r->error.empty()) {
            std::fprintf(out, "\n  verdict none: the %s run stopped\n", r->layout.c_str());
            return;
        }
    if (hybrid.steps() == full_only.steps()) {
        std::fprintf(out, "\n  verdict both layouts served the workload in %lld steps\n",
                     static_cast<long long>(hybrid.steps()));
        return;
    }
    const bool hybrid_won = hybrid.steps() < full_only.steps();
    const run_result& won = hybrid_won ? hybrid : full_only;
    const run_result& lost = hybrid_won ? full_only : hybrid;
    const auto mean_of = [](const run_result& r) {
        return r.running.empty() ? 0.0
                                 : std::accumulate(r.running.begin(), r.running.end(), 0.0) / double(r.running.size());
    };
    const auto peak_of = [](const run_result& r) {
        return r.running.empty() ? 0 : *std::max_element(r.running.begin(), r.running.end());
    };
    const auto bytes_ratio = [](const run_result& r) {
        return r.ideal_bytes > 0 ? double(r.used_bytes) / double(r.ideal_bytes) : 0.0;
    };
    std::fprintf(out, "\n  verdict %s served this workload better: %lld steps against %lld (%.2fx).\n",
                 won.layout.c_str(), static_cast<long long>(won.steps()), static_cast<long long>(lost.steps()),
                 double(won.steps()) / double(lost.steps()));
    std::fprintf(
        out, "          It ran %.1f requests per step on average against %.1f, with %lld preemptions against %lld",
        mean_of(won), mean_of(lost), static_cast<long long>(won.preemptions), static_cast<long long>(lost.preemptions));
    if (bytes_ratio(won) < bytes_ratio(lost)) {
        std::fprintf(out,
                     ",\n          because it holds %.3fx the ideal KV bytes against %.3fx, so the same budget holds "
                     "more requests",
                     bytes_ratio(won), bytes_ratio(lost));
        if (hybrid_won)
            std::fprintf(
                out, "\n          (one full pool keeps the sliding layers' K/V of every token, in the window or not)");
    }
    std::fprintf(out, ".\n");
    if (peak_of(lost) > peak_of(won) && lost.preemptions > won.preemptions)
        std::fprintf(
            out,
            "          The %s run peaks higher (%d requests against %d) only by admitting requests it then preempts.\n",
            lost.layout.c_str(), peak_of(lost), peak_of(won));
}

bool write_occupancy_svg(const std::string& path, const std::string& title,
                         const std::vector<const run_result*>& runs) {
    std::ofstream svg(path);
    if (!svg) return false;
    std::int64_t max_steps = 1;
    std::vector<std::pair<const run_result*, const pool_trace*>> panels;
    for (const run_result* r : runs) {
        max_steps = std::max(max_steps, r->steps());
        for (const pool_trace& t : r->pools) panels.emplace_back(r, &t);
    }
    const double left = 70, right = 20, top = 50, panel_h = 150, gap = 55, plot_w = 820;
    const double width = left + plot_w + right;
    const double height = top + double(panels.size()) * (panel_h + gap) + 10;
    const auto num = [](double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f", v);
        return std::string(buf);
    };
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
        << "\" viewBox=\"0 0 " << width << ' ' << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        << "<text x=\"" << left << "\" y=\"20\" font-size=\"14\" font-weight=\"bold\">" << title << "</text>\n";
    // legend
    const char* names[] = {"owned", "cached (prefix cache)", "free"};
    const char* colors[] = {"#4472c4", "#ed7d31", "#e4e4e4"};
    double lx = left;
    for (int i = 0; i < 3; ++i) {
        svg << "<rect x=\"" << lx << "\" y=\"30\" width=\"12\" height=\"12\" fill=\"" << colors[i] << "\"/>"
            << "<text x=\"" << lx + 16 << "\" y=\"40\">" << names[i] << "</text>\n";
        lx += 16 + 8 * double(std::string(names[i]).size()) + 20;
    }
    svg << "<line x1=\"" << lx << "\" y1=\"36\" x2=\"" << lx + 24
        << "\" y2=\"36\" stroke=\"black\" stroke-dasharray=\"4 3\"/>"
        << "<text x=\"" << lx + 30 << "\" y=\"40\">ideal pages</text>\n";

    const std::size_t columns = 400;  // at most this many x samples per panel; each keeps its bucket's peak
    for (std::size_t p = 0; p < panels.size(); ++p) {
        const auto [run, t] = panels[p];
        const double y0 = top + double(p) * (panel_h + gap) + 28;
        const double cap = std::max(1, t->capacity_pages);
        const std::size_t n = t->owned.size();
        const std::size_t buckets = std::min(columns, n);
        std::vector<double> xs, owned, cached, ideal;
        bool any_cached = false;
        for (std::size_t b = 0; b < buckets; ++b) {
            const std::size_t from = b * n / buckets, to = std::max(from + 1, (b + 1) * n / buckets);
            std::size_t best = from;
            for (std::size_t s = from; s < to; ++s)
                if (t->owned[s] + t->cached[s] > t->owned[best] + t->cached[best]) best = s;
            xs.push_back(left + plot_w * (double(from + to) / 2) / double(max_steps));
            owned.push_back(t->owned[best]);
            cached.push_back(t->cached[best]);
            ideal.push_back(double(t->ideal[best]));
            any_cached = any_cached || t->cached[best] > 0;
        }
        if (!xs.empty()) {  // stretch the first and last samples to the run's first and last step
            xs.front() = left;
            xs.back() = left + plot_w * double(n) / double(max_steps);
        }
        const auto y = [&](double pages) { return y0 + panel_h * (1 - pages / cap); };
        const auto band = [&](auto lower, auto upper, const char* color) {
            svg << "<polygon fill=\"" << color << "\" points=\"";
            for (std::size_t i = 0; i < xs.size(); ++i) svg << num(xs[i]) << ',' << num(y(upper(i))) << ' ';
            for (std::size_t i = xs.size(); i-- > 0;) svg << num(xs[i]) << ',' << num(y(lower(i))) << ' ';
            svg << "\"/>\n";
        };
        const double x_end = left + plot_w * double(n) / double(max_steps);
        svg << "<text x=\"" << left << "\" y=\"" << y0 - 8 << "\" font-weight=\"bold\">" << run->layout << ": "
            << t->name << " pool, " << t->capacity_pages << " pages ("
            << format_bytes(double(t->capacity_pages) * double(t->page_bytes)) << ")</text>\n";
        // The panel is the free band; owned and cached pages are drawn over it.
        svg << "<rect x=\"" << left << "\" y=\"" << y0 << "\" width=\"" << plot_w << "\" height=\"" << panel_h
            << "\" fill=\"" << colors[2] << "\" stroke=\"#999\"/>\n";
        if (!xs.empty()) {
            if (any_cached)
                band([&](std::size_t i) { return owned[i]; }, [&](std::size_t i) { return owned[i] + cached[i]; },
                     colors[1]);
            band([&](std::size_t) { return 0.0; }, [&](std::size_t i) { return owned[i]; }, colors[0]);
            svg << "<polyline fill=\"none\" stroke=\"black\" stroke-width=\"1\" stroke-dasharray=\"4 3\" points=\"";
            for (std::size_t i = 0; i < xs.size(); ++i) svg << num(xs[i]) << ',' << num(y(ideal[i])) << ' ';
            svg << "\"/>\n";
        }
        for (int tick = 0; tick <= 4; ++tick) {
            const double pages = cap * tick / 4;
            svg << "<text x=\"" << left - 6 << "\" y=\"" << num(y(pages) + 4) << "\" text-anchor=\"end\">" << tick * 25
                << "%</text>\n";
        }
        for (int tick = 0; tick <= 5; ++tick) {
            const double step = double(max_steps) * tick / 5;
            svg << "<text x=\"" << num(left + plot_w * tick / 5) << "\" y=\"" << y0 + panel_h + 14
                << "\" text-anchor=\"middle\">" << static_cast<long long>(step) << "</text>\n";
        }
        if (n > 0 && x_end < left + plot_w)
            svg << "<text x=\"" << num(x_end + 4) << "\" y=\"" << y0 + 14 << "\">done at step " << n << "</text>\n";
    }
    svg << "<text x=\"" << left + plot_w / 2 << "\" y=\"" << height - 4 << "\" text-anchor=\"middle\">step</text>\n";
    svg << "</svg>\n";
    return bool(svg);
}

}  // namespace engine_sim
