// What the simulator prints and draws: progress, the summary table, the occupancy SVG.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "engine.hpp"

namespace engine_sim {

/// Figures of one pool over one run.
struct pool_figures {
    double peak_util = 0, mean_util = 0;  ///< owned / capacity
    double used_over_ideal = 0;           ///< sum over steps of owned / sum of ideal pages
    double worst_step_ratio = 0;          ///< the largest owned / ideal of any step
};
pool_figures figures_of(const pool_trace& t);

/// Host-time figures of one run (nanoseconds).
struct time_figures {
    double median_step = 0, p99_step = 0, per_request_step = 0;
    double tables_per_request_step = 0;  ///< the table-emission part of per_request_step
};
time_figures times_of(const run_result& r);

/// "12.5 GiB", "416.0 KiB", ...
std::string format_bytes(double bytes);

/// Progress on stderr: one updating line on a terminal, a line per 10% of finished requests
/// otherwise (CI logs), nothing when off.
class progress {
public:
    enum class mode { automatic, terminal, lines, off };
    progress(mode m, std::int64_t total_requests);
    void step(const run_result& r, std::int32_t running, std::int32_t waiting);
    void done(const run_result& r);

private:
    bool terminal_;
    bool off_;
    std::int64_t total_;
    std::int64_t next_decile_ = 1;
    double last_draw_s_ = -1;
};

/// Writes the summary table of the hybrid run and its full-only comparison to `out`, then the
/// verdict (with a comparison) and a legend of the terms.
void print_summary(std::FILE* out, const run_result& hybrid, const run_result* full_only);

/// Which layout served the workload better and why: the one that finished it in fewer steps (a
/// step is one forward pass), with the mean concurrency, preemptions and KV bytes behind it.
/// Peak concurrency alone misleads: a layout that admits requests it later preempts peaks higher.
void print_verdict(std::FILE* out, const run_result& hybrid, const run_result& full_only);

/// Writes an SVG of each pool's occupancy per step, stacked owned / cached / free, with the ideal
/// page count as a dashed line; all runs share one step axis. False when the file cannot be written.
bool write_occupancy_svg(const std::string& path, const std::string& title, const std::vector<const run_result*>& runs);

}  // namespace engine_sim
