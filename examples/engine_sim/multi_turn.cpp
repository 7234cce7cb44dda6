#include "multi_turn.hpp"

#include <cstdio>

#include "report.hpp"

namespace engine_sim {

namespace {

void row(std::FILE* out, const char* name, const std::string& a, const std::string& b) {
    std::fprintf(out, "  %-34s %-22s %s\n", name, a.c_str(), b.c_str());
}
std::string num(std::int64_t v) { return std::to_string(v); }
std::string pct(double v) {
    char s[32];
    std::snprintf(s, sizeof s, "%.1f%%", 100.0 * v);
    return s;
}
std::string ratio(double with, double without) {
    if (without == 0) return "-";
    char s[32];
    std::snprintf(s, sizeof s, "%.2fx", with / without);
    return s;
}

}  // namespace

int serve_multi_turn(const multi_turn_run& o) {
    const multi_turn_spec& w = o.workload;
    const std::int64_t page_bytes = std::int64_t{o.page_size} * o.model.all_layers_bytes_per_token();
    const std::int64_t page = o.page_size;
    const std::int64_t longest = w.system_tokens + std::int64_t{w.turns} * (w.user_tokens + w.reply_tokens);
    const std::int64_t longest_pages = (longest + page - 1) / page;
    const double gib = 1024.0 * 1024.0 * 1024.0;
    // auto: the GPU tier holds the concurrency cap's requests at their longest turn; the host tier
    // holds every session's longest context (the whole working set).
    const std::int64_t gpu_pages = o.budget_gib > 0 ? static_cast<std::int64_t>(o.budget_gib * gib) / page_bytes
                                                    : 1 + std::int64_t{w.max_concurrency} * longest_pages;
    const std::int64_t host_pages = o.host_gib > 0 ? static_cast<std::int64_t>(o.host_gib * gib) / page_bytes
                                                   : 1 + std::int64_t{w.sessions} * longest_pages;
    if (gpu_pages < 1 + longest_pages || gpu_pages > INT32_MAX || host_pages < 2 || host_pages > INT32_MAX) {
        std::fprintf(stderr,
                     "engine_sim: the GPU tier must hold one session's longest turn (%lld pages of %s) and the "
                     "host tier 2 pages at least\n",
                     static_cast<long long>(longest_pages), format_bytes(double(page_bytes)).c_str());
        return 2;
    }
    std::printf("pagedkv engine_sim\n");
    std::printf(
        "model     %s: one full caching pool of all layers, %s per token, page %lld tokens = %s\n"
        "          (the host tier serves full caching pools; docs/offload.md)\n",
        o.preset_name.c_str(), format_bytes(double(o.model.all_layers_bytes_per_token())).c_str(),
        static_cast<long long>(page), format_bytes(double(page_bytes)).c_str());
    std::printf(
        "workload  multi-turn: %d sessions x %d turns, a %lld-token system prompt shared by all, %lld user + %lld "
        "reply\n"
        "          tokens per turn, think %lld steps (+-50%%) between turns, a new session every %lld steps,\n"
        "          concurrency cap %d, prefill %lld tokens/step, longest turn %lld tokens, seed %llu\n",
        w.sessions, w.turns, static_cast<long long>(w.system_tokens), static_cast<long long>(w.user_tokens),
        static_cast<long long>(w.reply_tokens), static_cast<long long>(w.think_steps),
        static_cast<long long>(w.arrival_gap_steps), w.max_concurrency, static_cast<long long>(w.prefill_chunk_tokens),
        static_cast<long long>(longest), static_cast<unsigned long long>(o.seed));
    std::printf("tiers     GPU %lld pages (%s)%s, host %lld pages (%s)%s\n", static_cast<long long>(gpu_pages),
                format_bytes(double(gpu_pages * page_bytes)).c_str(),
                o.budget_gib > 0 ? "" : " auto: the cap's longest turns", static_cast<long long>(host_pages),
                format_bytes(double(host_pages * page_bytes)).c_str(),
                o.host_gib > 0 ? "" : " auto: every session's longest context");
    std::fflush(stdout);

    auto plain = pagedkv::full_pool<pagedkv::lifo_free_stack, pagedkv::lru>::create(
        pagedkv::pool_size{static_cast<std::int32_t>(gpu_pages)}, o.page_size);
    auto tiered = pagedkv::tiered_full_pool<pagedkv::lru>::create(
        pagedkv::pool_size{static_cast<std::int32_t>(gpu_pages)},
        pagedkv::pool_size{static_cast<std::int32_t>(host_pages)}, o.page_size);
    if (!plain || !tiered) {
        std::fprintf(stderr, "engine_sim: cannot create the pools: %s\n",
                     pagedkv::to_string(!plain ? plain.code() : tiered.code()).data());
        return 1;
    }
    const multi_turn_result a = run_multi_turn(plain.value(), w, o.seed, o.check_every, "GPU tier only");
    const multi_turn_result b = run_multi_turn(tiered.value(), w, o.seed, o.check_every, "GPU + host tier");

    const auto per_step = [&](const multi_turn_result& r) {
        const double bytes = double(r.written_back_pages + r.loaded_pages) * double(page_bytes);
        return format_bytes(r.forward_passes ? bytes / double(r.forward_passes) : 0.0);
    };
    const auto copied = [&](std::int64_t pages) { return format_bytes(double(pages) * double(page_bytes)); };
    std::printf("\n");
    row(stdout, "", a.layout, b.layout);
    row(stdout, "steps (think time included)", num(a.steps), num(b.steps));
    row(stdout, "forward passes", num(a.forward_passes), num(b.forward_passes));
    row(stdout, "turns served", num(a.turns_served), num(b.turns_served));
    const auto mean = [](std::int64_t sum, std::int64_t n) {
        char s[32];
        std::snprintf(s, sizeof s, "%.1f", n ? double(sum) / double(n) : 0.0);
        return std::string(s);
    };
    row(stdout, "steps to first token, mean", mean(a.first_token_steps, a.turns_served),
        mean(b.first_token_steps, b.turns_served));
    row(stdout, "steps per turn, mean", mean(a.turn_steps, a.turns_served), mean(b.turn_steps, b.turns_served));
    row(stdout, "prompt tokens looked up", num(a.prompt_tokens), num(b.prompt_tokens));
    row(stdout, "hit rate (both tiers)", pct(a.hit_rate()), pct(b.hit_rate()));
    row(stdout, "  hit tokens from the GPU tier", num(a.gpu_hit_tokens), num(b.gpu_hit_tokens));
    row(stdout, "  hit tokens from the host tier", num(a.host_hit_tokens), num(b.host_hit_tokens));
    row(stdout, "prefilled tokens", num(a.prefilled_tokens), num(b.prefilled_tokens));
    row(stdout, "  of which recomputed", num(a.recomputed_tokens), num(b.recomputed_tokens));
    row(stdout, "preemptions", num(a.preemptions), num(b.preemptions));
    row(stdout, "GPU pages evicted", num(a.gpu_evicted_pages), num(b.gpu_evicted_pages));
    row(stdout, "pages written back / loaded", num(a.written_back_pages) + " / " + num(a.loaded_pages),
        num(b.written_back_pages) + " / " + num(b.loaded_pages));
    row(stdout, "host pages evicted", num(a.host_evicted_pages), num(b.host_evicted_pages));
    row(stdout, "host<->device bytes in all", copied(a.written_back_pages + a.loaded_pages),
        copied(b.written_back_pages + b.loaded_pages));
    row(stdout, "host<->device per forward pass", per_step(a), per_step(b));
    row(stdout, "host<->device, largest step", copied(a.peak_step_copy_pages), copied(b.peak_step_copy_pages));
    row(stdout, "invariant checks passed", num(a.invariant_checks), num(b.invariant_checks));
    std::printf(
        "\n  with / without the host tier: hit rate %s, prefilled tokens %s, recomputed tokens %s, forward passes %s,\n"
        "  steps to first token %s\n",
        ratio(b.hit_rate(), a.hit_rate()).c_str(),
        ratio(double(b.prefilled_tokens), double(a.prefilled_tokens)).c_str(),
        ratio(double(b.recomputed_tokens), double(a.recomputed_tokens)).c_str(),
        ratio(double(b.forward_passes), double(a.forward_passes)).c_str(),
        ratio(double(b.first_token_steps), double(a.first_token_steps)).c_str());
    std::printf(
        "\n  legend  recomputed: prompt tokens prefilled although an earlier forward pass had computed them\n"
        "          (the session's earlier turns, the shared system prompt); forward passes: steps with a batch;\n"
        "          host<->device: the step's copy plan (write-backs GPU -> host, loads host -> GPU), page bytes\n");
    for (const multi_turn_result* r : {&a, &b})
        if (!r->error.empty()) std::printf("\n  %s run stopped: %s\n", r->layout.c_str(), r->error.c_str());
    return a.error.empty() && b.error.empty() ? 0 : 1;
}

}  // namespace engine_sim
