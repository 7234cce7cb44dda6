#include "workload.hpp"

#include <algorithm>
#include <cmath>

namespace engine_sim {

bool named_workload(std::string_view name, workload_spec& w) {
    workload_spec fresh;
    if (name == "summarization") {
        // the defaults
    } else if (name == "chat") {
        fresh.requests = 200, fresh.prompt_tokens = 2048, fresh.output_tokens = 512;
    } else if (name == "reasoning") {
        fresh.requests = 64, fresh.prompt_tokens = 1024, fresh.output_tokens = 8192;
    } else {
        return false;
    }
    fresh.name = std::string(name);
    w = fresh;
    return true;
}

double uniform_hash(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c) noexcept {
    std::uint64_t x = seed;
    for (std::uint64_t v : {a, b, c}) {
        x += 0x9e3779b97f4a7c15ULL + v;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        x ^= x >> 31;
    }
    return static_cast<double>(x >> 11) * 0x1.0p-53;
}

std::vector<request_spec> generate_requests(const workload_spec& w, std::uint64_t seed) {
    std::vector<request_spec> out(static_cast<std::size_t>(w.requests));
    const auto jitter = [&](std::int64_t mean, std::uint64_t i, std::uint64_t which) {
        const double u = uniform_hash(seed, i, which, 0x1e57);
        const auto v = std::llround(static_cast<double>(mean) * (1.0 + w.length_jitter * (2.0 * u - 1.0)));
        return std::max<std::int64_t>(1, v);
    };
    for (std::size_t i = 0; i < out.size(); ++i)
        out[i] = {jitter(w.prompt_tokens, i, 0), jitter(w.output_tokens, i, 1)};
    return out;
}

acceptance::acceptance(std::int32_t draft_tokens, double mean_accepted, std::uint64_t seed)
    : drafts_(draft_tokens), alpha_(0.0), seed_(seed) {
    // alpha + ... + alpha^d grows with alpha: bisect for the requested mean.
    double lo = 0.0, hi = 1.0;
    for (int i = 0; i < 100; ++i) {
        alpha_ = (lo + hi) / 2;
        (mean() < mean_accepted ? lo : hi) = alpha_;
    }
    alpha_ = mean_accepted >= draft_tokens ? 1.0 : lo;
}

double acceptance::mean() const noexcept {
    double sum = 0, power = 1;
    for (std::int32_t i = 0; i < drafts_; ++i) sum += (power *= alpha_);
    return sum;
}

std::int32_t acceptance::accepted(std::int32_t request, std::int64_t step) const noexcept {
    std::int32_t a = 0;
    while (a < drafts_ && uniform_hash(seed_, static_cast<std::uint64_t>(request), static_cast<std::uint64_t>(step),
                                       static_cast<std::uint64_t>(a)) < alpha_)
        ++a;
    return a;
}

}  // namespace engine_sim
