// engine_sim: a hybrid-model serving simulation on pagedkv's pools. Plans the pools for a KV
// budget, serves a generated workload step by step on hybrid_pool<> and on one full pool with the
// same bytes, and reports memory against the ideal, concurrency and host time. See docs/engine_sim.md.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include <pagedkv/pagedkv.hpp>
#include <pagedkv/plan/capacity_planner.hpp>
#include <pagedkv/plan/group_planner.hpp>

#include "engine.hpp"
#include "multi_turn.hpp"
#include "preset.hpp"
#include "report.hpp"
#include "workload.hpp"

namespace {

using namespace engine_sim;

struct options {
    std::string preset = "gemma-3-27b";
    workload_spec workload;
    std::int32_t page_size = 16;
    double budget_gib = 0;  // 0: the planner's need for max_concurrency requests
    std::uint64_t seed = 1;
    std::int32_t check_every = 1;
    progress::mode progress_mode = progress::mode::automatic;
    std::string svg;
    std::string trace;  ///< --trace FILE: record the hybrid run's pool calls (docs/fuzzing.md)
    bool compare = true;
    bool multi_turn = false;  ///< --workload multi-turn: the host-tier comparison (multi_turn.hpp)
    multi_turn_spec chat;     ///< its sessions
    double host_gib = 0;      ///< its host tier; 0: auto
};

void usage(std::FILE* out) {
    std::fprintf(
        out,
        "usage: engine_sim [flags]\n"
        "Serves a generated workload step by step on pagedkv's hybrid pool (full + SWA pages), then\n"
        "the same run on one full pool holding every layer with the same bytes, and compares them.\n\n"
        "  --preset NAME|FILE     model preset (default gemma-3-27b); a path if it has '/' or ends in .preset\n"
        "  --workload NAME        summarization (default: 80 x 8192 prompt / 1024 output), chat (200 x 2048 / 512),\n"
        "                         reasoning (64 x 1024 / 8192); the flags below override its fields;\n"
        "                         multi-turn: chat sessions on a full caching pool without and with a host tier\n"
        "                         (docs/engine_sim.md), with --sessions, --turns, --system-tokens, --user-tokens,\n"
        "                         --reply-tokens, --think-steps, --host-gib X|auto, and --max-concurrency (24),\n"
        "                         --prefill-chunk, --page-size, --budget-gib (the GPU tier), --seed, --check-every\n"
        "  --requests N           number of requests\n"
        "  --prompt-tokens N      prompt length (mean, with --length-jitter)\n"
        "  --output-tokens N      output length (mean, with --length-jitter)\n"
        "  --length-jitter F      lengths uniform in [1-F, 1+F] x the mean (default 0)\n"
        "  --max-concurrency N    running requests at most (default 64)\n"
        "  --draft-tokens N       MTP draft tokens per decode step (default 3)\n"
        "  --mean-accepted X      mean drafts accepted per step (default 2.0)\n"
        "  --prefill-chunk N      prompt tokens prefilled per step, all requests together (default 2048)\n"
        "  --page-size N          tokens per page (default 16)\n"
        "  --budget-gib X|auto    KV memory budget; auto (default) = what the capacity planner needs for\n"
        "                         --max-concurrency requests at their peak on the hybrid layout\n"
        "  --seed N               seed of the lengths and the acceptance draws (default 1)\n"
        "  --check-every N        run the invariant checkers every N steps; 0 = never (default 1)\n"
        "  --progress MODE        auto (default: a live line on a terminal, else a line per 10%%), line, lines, off\n"
        "  --svg FILE             write the pool occupancy plot (SVG)\n"
        "  --trace FILE           record every hybrid-pool call, its result and state digest (tools/replay FILE\n"
        "                         replays it; keep the workload small: a line per call)\n"
        "  --no-compare           skip the full-only run\n"
        "  --help                 this text\n");
    std::fprintf(out, "\nshipped presets (%s):", preset_dir().c_str());
    for (const std::string& p : shipped_presets()) std::fprintf(out, " %s", p.c_str());
    std::fprintf(out, "\n");
}

template <class T>
bool parse_number(std::string_view text, T& out) {
    if constexpr (std::is_floating_point_v<T>) {
        char* end = nullptr;
        const std::string s(text);
        out = static_cast<T>(std::strtod(s.c_str(), &end));
        return !s.empty() && end == s.c_str() + s.size() && std::isfinite(out);
    } else {
        const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
        return ec == std::errc{} && p == text.data() + text.size();
    }
}

// Every flag engine_sim knows, and whether it takes a value: the parser's one list, so an unknown
// flag is named as such before anything asks for its value.
struct flag_spec {
    std::string_view name;
    bool takes_value;
};
constexpr flag_spec known_flags[] = {
    {"--help", false},         {"-h", false},
    {"--no-compare", false},   {"--preset", true},
    {"--workload", true},      {"--requests", true},
    {"--prompt-tokens", true}, {"--output-tokens", true},
    {"--length-jitter", true}, {"--max-concurrency", true},
    {"--draft-tokens", true},  {"--mean-accepted", true},
    {"--prefill-chunk", true}, {"--page-size", true},
    {"--budget-gib", true},    {"--seed", true},
    {"--check-every", true},   {"--progress", true},
    {"--svg", true},           {"--trace", true},
    {"--sessions", true},      {"--turns", true},
    {"--system-tokens", true}, {"--user-tokens", true},
    {"--reply-tokens", true},  {"--think-steps", true},
    {"--host-gib", true},
};
const flag_spec* find_flag(std::string_view name) {
    for (const flag_spec& f : known_flags)
        if (f.name == name) return &f;
    return nullptr;
}

// Parses argv into `o`; returns 0 to run, 1 after --help, 2 on a bad flag (said on stderr).
int parse(int argc, char** argv, options& o) {
    // --workload first: the other workload flags override the named workload's fields.
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        const std::string_view name = a.starts_with("--workload=")        ? a.substr(11)
                                      : a == "--workload" && i + 1 < argc ? std::string_view(argv[i + 1])
                                                                          : std::string_view();
        if (name == "multi-turn") {
            o.multi_turn = true;
        } else if (!name.empty() && !named_workload(name, o.workload)) {
            std::fprintf(stderr, "engine_sim: unknown workload '%.*s' (summarization, chat, reasoning, multi-turn)\n",
                         int(name.size()), name.data());
            return 2;
        }
    }
    for (int i = 1; i < argc; ++i) {
        std::string_view flag = argv[i];
        std::string_view value;
        const auto eq = flag.find('=');
        const bool inline_value = eq != std::string_view::npos;
        if (inline_value) {
            value = flag.substr(eq + 1);
            flag = flag.substr(0, eq);
        }
        const flag_spec* spec = find_flag(flag);
        if (!spec) {
            std::fprintf(stderr, "engine_sim: unknown flag %.*s (see --help)\n", int(flag.size()), flag.data());
            return 2;
        }
        if (spec->takes_value && !inline_value) {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "engine_sim: %.*s needs a value (see --help)\n", int(flag.size()), flag.data());
                return 2;
            }
            value = argv[++i];
        } else if (!spec->takes_value && inline_value) {
            std::fprintf(stderr, "engine_sim: %.*s takes no value (see --help)\n", int(flag.size()), flag.data());
            return 2;
        }
        bool ok = true;
        if (flag == "--help" || flag == "-h") {
            usage(stdout);
            return 1;
        } else if (flag == "--no-compare")
            o.compare = false;
        else if (flag == "--preset")
            o.preset = value;
        else if (flag == "--workload")
            continue;  // applied above
        else if (flag == "--requests")
            ok = parse_number(value, o.workload.requests) && o.workload.requests >= 1;
        else if (flag == "--prompt-tokens")
            ok = parse_number(value, o.workload.prompt_tokens) && o.workload.prompt_tokens >= 1;
        else if (flag == "--output-tokens")
            ok = parse_number(value, o.workload.output_tokens) && o.workload.output_tokens >= 1;
        else if (flag == "--length-jitter")
            ok = parse_number(value, o.workload.length_jitter) && o.workload.length_jitter >= 0 &&
                 o.workload.length_jitter < 1;
        else if (flag == "--max-concurrency")
            ok = parse_number(value, o.workload.max_concurrency) && o.workload.max_concurrency >= 1 &&
                 ((o.chat.max_concurrency = o.workload.max_concurrency), true);
        else if (flag == "--draft-tokens")
            ok = parse_number(value, o.workload.draft_tokens) && o.workload.draft_tokens >= 0 &&
                 o.workload.draft_tokens <= 64;
        else if (flag == "--mean-accepted")
            ok = parse_number(value, o.workload.mean_accepted) && o.workload.mean_accepted >= 0;
        else if (flag == "--prefill-chunk")
            ok = parse_number(value, o.workload.prefill_chunk_tokens) && o.workload.prefill_chunk_tokens >= 1 &&
                 ((o.chat.prefill_chunk_tokens = o.workload.prefill_chunk_tokens), true);
        else if (flag == "--sessions")
            ok = parse_number(value, o.chat.sessions) && o.chat.sessions >= 1;
        else if (flag == "--turns")
            ok = parse_number(value, o.chat.turns) && o.chat.turns >= 1;
        else if (flag == "--system-tokens")
            ok = parse_number(value, o.chat.system_tokens) && o.chat.system_tokens >= 0;
        else if (flag == "--user-tokens")
            ok = parse_number(value, o.chat.user_tokens) && o.chat.user_tokens >= 1;
        else if (flag == "--reply-tokens")
            ok = parse_number(value, o.chat.reply_tokens) && o.chat.reply_tokens >= 1;
        else if (flag == "--think-steps")
            ok = parse_number(value, o.chat.think_steps) && o.chat.think_steps >= 0;
        else if (flag == "--host-gib")
            ok = value == "auto" ? (o.host_gib = 0, true) : parse_number(value, o.host_gib) && o.host_gib > 0;
        else if (flag == "--page-size")
            ok = parse_number(value, o.page_size) && o.page_size >= 1;
        else if (flag == "--budget-gib")
            ok = value == "auto" ? (o.budget_gib = 0, true) : parse_number(value, o.budget_gib) && o.budget_gib > 0;
        else if (flag == "--seed")
            ok = parse_number(value, o.seed);
        else if (flag == "--check-every")
            ok = parse_number(value, o.check_every) && o.check_every >= 0;
        else if (flag == "--svg")
            o.svg = value;
        else if (flag == "--trace")
            o.trace = value;
        else if (flag == "--progress") {
            if (value == "auto")
                o.progress_mode = progress::mode::automatic;
            else if (value == "line")
                o.progress_mode = progress::mode::terminal;
            else if (value == "lines")
                o.progress_mode = progress::mode::lines;
            else if (value == "off")
                o.progress_mode = progress::mode::off;
            else
                ok = false;
        }
        if (!ok) {
            std::fprintf(stderr, "engine_sim: bad value '%.*s' for %.*s (see --help)\n", int(value.size()),
                         value.data(), int(flag.size()), flag.data());
            return 2;
        }
    }
    if (o.workload.mean_accepted > o.workload.draft_tokens) o.workload.mean_accepted = o.workload.draft_tokens;
    return 0;
}

// "engine_sim: WHAT: code: detail" on stderr.
void print_error(const char* what, pagedkv::error e) {
    std::fprintf(stderr, "engine_sim: %s: %s\n", what, format_error(e).c_str());
}

pool_trace trace(std::string name, pagedkv::attention_kind kind, pagedkv::pool_size size, std::int64_t page_bytes) {
    pool_trace t;
    t.name = std::move(name);
    t.kind = kind;
    t.capacity_pages = size.pages - 1;
    t.page_bytes = page_bytes;
    return t;
}

// --compare: the same workload on one full pool the size the planner gives a model without groups.
// Fills `out` and returns true; false (after printing why) when that pool cannot be made.
bool run_full_only(const options& o, pagedkv::pool_size pages, std::int64_t page_bytes,
                   const std::vector<request_spec>& specs, const std::vector<ideal_pool>& ideal_layout, run_options ro,
                   run_result& out) {
    auto one = pagedkv::full_pool<>::create(pages, o.page_size);
    if (!one) {
        print_error("full_pool::create", one.err());
        return false;
    }
    progress bar(o.progress_mode, o.workload.requests);
    ro.on_step = [&](const run_result& r, std::int32_t running, std::int32_t waiting) {
        bar.step(r, running, waiting);
    };
    out = run_engine(one.value(), {trace("one", pagedkv::attention_kind::full, pages, page_bytes)}, specs, o.workload,
                     ideal_layout, ro, "full-only (one pool)");
    bar.done(out);
    return true;
}

// A layout for models with windows and chunks: `Pool` is the multi_hybrid_pool of the preset's
// groups. Plans its pools for the budget, serves the workload on it, then on one full pool.
template <class Pool>
int run_grouped(const preset& p, const options& o, const std::vector<request_spec>& specs,
                const pagedkv::workload_shape& shape) {
    const pagedkv::grouped_model& m = p.groups;
    const workload_spec& w = o.workload;
    std::int64_t budget = static_cast<std::int64_t>(o.budget_gib * 1024.0 * 1024.0 * 1024.0);
    const bool auto_budget = budget == 0;
    if (auto_budget) {
        const auto need = pagedkv::group_bytes_for(m, shape, o.page_size, w.max_concurrency);
        if (!need) {
            print_error("cannot plan", need.err());
            return 2;
        }
        budget = need.value();
    }
    const auto planned = pagedkv::plan_group_capacity(budget, m, shape, o.page_size);
    if (!planned) {
        print_error("cannot plan", planned.err());
        return 2;
    }
    const pagedkv::group_capacity_plan& plan = planned.value();
    const auto group_name = [&](std::size_t g) {
        const auto& rule = m.groups[g].rule;
        const std::int64_t span = pagedkv::kept_span_tokens(rule);
        return std::string(std::holds_alternative<pagedkv::chunked_local>(rule) ? "chunk " : "window ") +
               std::to_string(span);
    };
    std::printf("pagedkv engine_sim\n");
    std::printf("model     %s (%s): %d layers, %d full", p.name.c_str(), p.path.c_str(), p.layers, m.full_layers);
    for (std::size_t g = 0; g < m.groups.size(); ++g)
        std::printf(" + %d %s", m.groups[g].layers, group_name(g).c_str());
    std::printf(" own a KV cache\n          per token: full pool %s",
                format_bytes(double(m.full_bytes_per_token())).c_str());
    for (std::size_t g = 0; g < m.groups.size(); ++g)
        std::printf(", %s pool %s", group_name(g).c_str(), format_bytes(double(m.group_bytes_per_token(g))).c_str());
    std::printf(", one full pool of all layers %s\n", format_bytes(double(m.all_layers_bytes_per_token())).c_str());
    std::printf(
        "workload  %s: %d requests, %lld prompt + %lld output tokens, concurrency cap %d, prefill %lld tokens/step,\n"
        "          MTP %d drafts/step, seed %llu, page %d tokens\n",
        w.name.c_str(), w.requests, static_cast<long long>(w.prompt_tokens), static_cast<long long>(w.output_tokens),
        w.max_concurrency, static_cast<long long>(w.prefill_chunk_tokens), w.draft_tokens,
        static_cast<unsigned long long>(o.seed), o.page_size);
    std::printf("budget    %s%s\n", format_bytes(double(budget)).c_str(),
                auto_budget ? " (auto: what the planner needs for the concurrency cap; set --budget-gib)" : "");
    std::printf("plan      full %d pages x %s", plan.full_pages.pages,
                format_bytes(double(plan.full_page_bytes)).c_str());
    for (std::size_t g = 0; g < m.groups.size(); ++g)
        std::printf(" + %s %d pages x %s", group_name(g).c_str(), plan.group_pages[g].pages,
                    format_bytes(double(plan.group_page_bytes[g])).c_str());
    std::printf(" = %s -> %d requests fit at their peak\n          (per request: %lld full pages",
                format_bytes(double(plan.bytes)).c_str(), plan.concurrency,
                static_cast<long long>(plan.full_demand.full_pages));
    for (std::size_t g = 0; g < m.groups.size(); ++g)
        std::printf(", %lld %s pages", static_cast<long long>(plan.group_demand[g].swa_pages), group_name(g).c_str());
    std::printf(
        ")\n          one full pool, same budget: %d pages x %s -> %d requests fit (the groups' layout fits %.2fx as "
        "many)\n",
        plan.full_only_pages.pages, format_bytes(double(plan.full_only_page_bytes)).c_str(), plan.full_only_concurrency,
        plan.full_only_concurrency > 0 ? double(plan.concurrency) / plan.full_only_concurrency : 0.0);
    std::fflush(stdout);

    // The pools, their traces and the ideal, all in the order full, then the groups.
    auto pool = [&]<std::size_t... K>(std::index_sequence<K...>) {
        return Pool::create(plan.full_pages, o.page_size,
                            pagedkv::group_size{plan.group_pages[K], pagedkv::kept_span_tokens(m.groups[K].rule)}...);
    }(std::make_index_sequence<Pool::group_count>{});
    if (!pool) {
        print_error("multi_hybrid_pool::create", pool.err());
        return 1;
    }
    std::vector<pool_trace> traces{trace("full", pagedkv::attention_kind::full, plan.full_pages, plan.full_page_bytes)};
    std::vector<ideal_pool> ideal_layout{{pagedkv::full_attention{}, plan.full_page_bytes}};
    for (std::size_t g = 0; g < m.groups.size(); ++g) {
        const bool chunked = std::holds_alternative<pagedkv::chunked_local>(m.groups[g].rule);
        traces.push_back(trace(group_name(g),
                               chunked ? pagedkv::attention_kind::chunked : pagedkv::attention_kind::sliding,
                               plan.group_pages[g], plan.group_page_bytes[g]));
        ideal_layout.push_back(
            {std::visit([](const auto& r) -> decltype(ideal_pool::rule) { return r; }, m.groups[g].rule),
             plan.group_page_bytes[g]});
    }
    run_options ro;
    ro.page_size_tokens = o.page_size;
    ro.check_every = o.check_every;
    ro.seed = o.seed;
    progress bar(o.progress_mode, w.requests);
    ro.on_step = [&](const run_result& r, std::int32_t running, std::int32_t waiting) {
        bar.step(r, running, waiting);
    };
    const run_result h =
        run_engine(pool.value(), std::move(traces), specs, w, ideal_layout, ro, "groups (full + each group)");
    bar.done(h);
    run_result f;
    const bool compare = o.compare && plan.full_only_pages.pages >= 2;
    if (compare && !run_full_only(o, plan.full_only_pages, plan.full_only_page_bytes, specs, ideal_layout, ro, f))
        return 1;
    print_summary(stdout, h, compare ? &f : nullptr);
    for (const run_result* r : {&h, compare ? &f : static_cast<const run_result*>(nullptr)})
        if (r && !r->error.empty()) std::printf("\n  %s run stopped: %s\n", r->layout.c_str(), r->error.c_str());
    if (!o.svg.empty()) {
        std::vector<const run_result*> runs{&h};
        if (compare) runs.push_back(&f);
        const std::string title = p.name + ", " + w.name + ", P = " + std::to_string(o.page_size);
        if (!write_occupancy_svg(o.svg, title, runs)) {
            std::fprintf(stderr, "engine_sim: cannot write %s\n", o.svg.c_str());
            return 1;
        }
        std::printf("\n  occupancy plot written to %s\n", o.svg.c_str());
    }
    return !h.error.empty() || (compare && !f.error.empty()) ? 1 : 0;
}

// The multi_hybrid_pool type for a preset's group letters (S, L: windows; C: chunked), or an error.
int run_grouped_preset(const preset& p, const options& o, const std::vector<request_spec>& specs,
                       const pagedkv::workload_shape& shape) {
    using pagedkv::chunked_pool, pagedkv::full_pool, pagedkv::multi_hybrid_pool, pagedkv::swa_pool;
    const std::string& g = p.group_letters;
    if (g == "C") return run_grouped<multi_hybrid_pool<full_pool<>, chunked_pool<>>>(p, o, specs, shape);
    if (g == "L") return run_grouped<multi_hybrid_pool<full_pool<>, swa_pool<>>>(p, o, specs, shape);
    if (g == "SL") return run_grouped<multi_hybrid_pool<full_pool<>, swa_pool<>, swa_pool<>>>(p, o, specs, shape);
    if (g == "SC" || g == "LC")
        return run_grouped<multi_hybrid_pool<full_pool<>, swa_pool<>, chunked_pool<>>>(p, o, specs, shape);
    if (g == "SLC")
        return run_grouped<multi_hybrid_pool<full_pool<>, swa_pool<>, swa_pool<>, chunked_pool<>>>(p, o, specs, shape);
    std::fprintf(stderr, "engine_sim: %s: a model needs full layers and at least one window or chunked group\n",
                 p.path.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    if (const int rc = parse(argc, argv, o); rc != 0) return rc == 1 ? 0 : rc;
    std::string why;
    const auto preset = load_preset(o.preset, why);
    if (!preset) {
        std::fprintf(stderr, "engine_sim: %s\n", why.c_str());
        return 2;
    }
    const pagedkv::model_config& model = preset->model;
    if (o.multi_turn)
        return serve_multi_turn(
            {preset->name, model, o.chat, o.page_size, o.budget_gib, o.host_gib, o.seed, o.check_every});
    const workload_spec& w = o.workload;
    const auto specs = generate_requests(w, o.seed);
    // Plan for the longest request the generator can produce.
    pagedkv::workload_shape shape{w.prompt_tokens, w.output_tokens, w.max_concurrency, w.draft_tokens,
                                  w.prefill_chunk_tokens};
    for (const request_spec& s : specs) {
        shape.prompt_tokens = std::max(shape.prompt_tokens, s.prompt_tokens);
        shape.output_tokens = std::max(shape.output_tokens, s.output_tokens);
    }
    if (preset->multi()) {  // windows of two sizes or chunked layers: one pool per group
        if (!o.trace.empty()) {
            std::fprintf(stderr, "engine_sim: --trace records two-pool hybrids only\n");
            return 2;
        }
        return run_grouped_preset(*preset, o, specs, shape);
    }
    std::int64_t budget = static_cast<std::int64_t>(o.budget_gib * 1024.0 * 1024.0 * 1024.0);
    const bool auto_budget = budget == 0;
    const auto demand = pagedkv::demand_of(model, shape, o.page_size);
    if (!demand) {
        print_error("cannot plan", demand.err());
        return 2;
    }
    if (auto_budget) budget = pagedkv::hybrid_bytes_for(demand.value(), model, w.max_concurrency);
    const auto planned = pagedkv::plan_capacity(budget, model, shape, o.page_size);
    if (!planned) {
        print_error("cannot plan", planned.err());
        if (planned.code() == pagedkv::errc::invalid_pool_size && budget > 0) {
            // The smallest budget that fits one request at its peak, rounded up to what --budget-gib takes.
            const double gib = 1024.0 * 1024.0 * 1024.0;
            const double one_request = double(pagedkv::hybrid_bytes_for(demand.value(), model, 1));
            std::fprintf(stderr,
                         "engine_sim: the budget is %s; one request of this workload needs %s at its peak: "
                         "--budget-gib %.2f or more\n",
                         format_bytes(double(budget)).c_str(), format_bytes(one_request).c_str(),
                         std::ceil(one_request / gib * 100) / 100);
        }
        return 2;
    }
    const pagedkv::capacity_plan& plan = planned.value();
    const acceptance accept(w.draft_tokens, w.mean_accepted, 0);

    std::printf("pagedkv engine_sim\n");
    std::printf("model     %s (%s): %d layers, %d full + %d sliding own a KV cache, window %lld tokens\n",
                preset->name.c_str(), preset->path.c_str(), preset->layers, model.full_layers, model.sliding_layers,
                static_cast<long long>(model.window_tokens));
    std::printf("          per token: full pool %s, SWA pool %s, one full pool of all layers %s\n",
                format_bytes(double(plan.full_bytes_per_token)).c_str(),
                format_bytes(double(plan.swa_bytes_per_token)).c_str(),
                format_bytes(double(model.all_layers_bytes_per_token())).c_str());
    std::printf(
        "workload  %s: %d requests, %lld prompt + %lld output tokens%s, concurrency cap %d, prefill %lld tokens/step,\n"
        "          MTP %d drafts/step (acceptance %.3f per draft, mean accepted %.2f), seed %llu, page %d tokens\n",
        w.name.c_str(), w.requests, static_cast<long long>(w.prompt_tokens), static_cast<long long>(w.output_tokens),
        w.length_jitter > 0 ? " (jittered)" : "", w.max_concurrency, static_cast<long long>(w.prefill_chunk_tokens),
        w.draft_tokens, accept.alpha(), accept.mean(), static_cast<unsigned long long>(o.seed), o.page_size);
    std::printf("budget    %s%s\n", format_bytes(double(budget)).c_str(),
                auto_budget ? " (auto: what the planner needs for the concurrency cap; set --budget-gib)" : "");
    std::printf(
        "plan      full %d pages x %s + SWA %d pages x %s = %s -> %d requests fit at their peak\n"
        "          (per request: %lld full pages, %lld SWA pages, +%lld SWA pages for the step's prefill chunks)\n"
        "          one full pool, same budget: %d pages x %s -> %d requests fit (hybrid fits %.2fx as many)\n",
        plan.full_pages.pages, format_bytes(double(plan.full_page_bytes)).c_str(), plan.swa_pages.pages,
        format_bytes(double(plan.swa_page_bytes)).c_str(), format_bytes(double(plan.bytes)).c_str(), plan.concurrency,
        static_cast<long long>(plan.demand.full_pages), static_cast<long long>(plan.demand.swa_pages),
        static_cast<long long>(plan.demand.swa_prefill_pages(plan.concurrency)), plan.full_only_pages.pages,
        format_bytes(double(plan.full_only_page_bytes)).c_str(), plan.full_only_concurrency,
        plan.full_only_concurrency > 0 ? double(plan.concurrency) / plan.full_only_concurrency : 0.0);
    std::fflush(stdout);

    const auto ideal_layout = ideal_pools_of(model, o.page_size);
    run_options ro;
    ro.page_size_tokens = o.page_size;
    ro.check_every = o.check_every;
    ro.seed = o.seed;

    auto hybrid = pagedkv::hybrid_pool<>::create(plan.full_pages, plan.swa_pages, o.page_size, model.window_tokens);
    if (!hybrid) {
        print_error("hybrid_pool::create", hybrid.err());
        return 1;
    }
    progress bar(o.progress_mode, w.requests);
    ro.on_step = [&](const run_result& r, std::int32_t running, std::int32_t waiting) {
        bar.step(r, running, waiting);
    };
    std::vector<pool_trace> hybrid_traces{
        trace("full", pagedkv::attention_kind::full, plan.full_pages, plan.full_page_bytes),
        trace("SWA", pagedkv::attention_kind::sliding, plan.swa_pages, plan.swa_page_bytes)};
    run_result h;
    if (o.trace.empty()) {
        h = run_engine(hybrid.value(), std::move(hybrid_traces), specs, w, ideal_layout, ro, "hybrid (full + SWA)");
    } else {  // the same run through the recorder: every pool call lands in the trace file
        std::ofstream file(o.trace);
        pagedkv::trace_recorder<pagedkv::hybrid_pool<>> recorder(&file);
        if (!file || !recorder.create(plan.full_pages, plan.swa_pages, o.page_size, model.window_tokens)) {
            std::fprintf(stderr, "engine_sim: cannot record a trace to %s\n", o.trace.c_str());
            return 1;
        }
        h = run_engine(recorder, std::move(hybrid_traces), specs, w, ideal_layout, ro, "hybrid (full + SWA)");
        std::printf("trace of the hybrid run written to %s (replay: tools/replay %s)\n", o.trace.c_str(),
                    o.trace.c_str());
    }
    bar.done(h);

    run_result f;
    const bool compare = o.compare && plan.full_only_pages.pages >= 2;
    if (compare && !run_full_only(o, plan.full_only_pages, plan.full_only_page_bytes, specs, ideal_layout, ro, f))
        return 1;
    print_summary(stdout, h, compare ? &f : nullptr);
    for (const run_result* r :
         {static_cast<const run_result*>(&h), compare ? &f : static_cast<const run_result*>(nullptr)})
        if (r && !r->error.empty()) std::printf("\n  %s run stopped: %s\n", r->layout.c_str(), r->error.c_str());

    if (!o.svg.empty()) {
        char title[256];
        std::snprintf(title, sizeof title, "%s, %s: %d x (%lld + %lld tokens), MTP %d, budget %s, P = %d",
                      preset->name.c_str(), w.name.c_str(), w.requests, static_cast<long long>(w.prompt_tokens),
                      static_cast<long long>(w.output_tokens), w.draft_tokens, format_bytes(double(budget)).c_str(),
                      o.page_size);
        std::vector<const run_result*> runs{&h};
        if (compare) runs.push_back(&f);
        if (!write_occupancy_svg(o.svg, title, runs)) {
            std::fprintf(stderr, "engine_sim: cannot write %s\n", o.svg.c_str());
            return 1;
        }
        std::printf("\n  occupancy plot written to %s\n", o.svg.c_str());
    } else {
        std::printf("\n  (--svg FILE draws each pool's occupancy over the run)\n");
    }
    const bool failed = !h.error.empty() || (compare && !f.error.empty());
    return failed ? 1 : 0;
}
