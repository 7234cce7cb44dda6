// The generated, seeded workload: request lengths and speculative-decoding acceptance.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace engine_sim {

/// What the simulated engine serves. Every field has a flag; `named_workload` fills the defaults.
struct workload_spec {
    std::string name = "summarization";
    std::int32_t requests = 80;
    std::int64_t prompt_tokens = 8192;
    std::int64_t output_tokens = 1024;
    std::int32_t max_concurrency = 64;         ///< running requests at most
    std::int32_t draft_tokens = 3;             ///< MTP draft tokens verified per decode step
    double mean_accepted = 2.0;                ///< mean drafts accepted per decode step
    std::int64_t prefill_chunk_tokens = 2048;  ///< prompt tokens prefilled per step, all requests together
    double length_jitter = 0.0;                ///< lengths drawn uniformly in [1 - j, 1 + j] x the mean
};

/// Sets `w` to a named workload: summarization (80 x 8192 prompt / 1024 output), chat
/// (200 x 2048 / 512) or reasoning (64 x 1024 / 8192). False for an unknown name.
bool named_workload(std::string_view name, workload_spec& w);

/// The chat sessions. Turn t of a session sends the system prompt, every earlier turn (user message
/// and reply) and a new user message, then decodes a reply; the next turn arrives `think_steps`
/// (jittered) after the reply ends, so the session's pages sit unowned in the cache meanwhile.
struct multi_turn_spec {
    std::int32_t sessions = 128;
    std::int32_t turns = 4;
    std::int64_t system_tokens = 2048;   ///< one system prompt, shared by every session
    std::int64_t user_tokens = 384;      ///< per turn
    std::int64_t reply_tokens = 128;     ///< per turn, decoded one token per step
    std::int64_t think_steps = 400;      ///< mean gap between a reply and the next turn (uniform +-50%)
    std::int64_t arrival_gap_steps = 4;  ///< session s starts its first turn at step s * gap
    std::int32_t max_concurrency = 24;
    std::int64_t prefill_chunk_tokens = 1024;
};

/// One request's lengths.
struct request_spec {
    std::int64_t prompt_tokens = 0;
    std::int64_t output_tokens = 0;
};

/// The requests of `w`, all arriving at step 0, lengths jittered by a hash of (seed, index).
std::vector<request_spec> generate_requests(const workload_spec& w, std::uint64_t seed);

/// Drafts accepted per decode step: the i-th draft is accepted with probability alpha if all
/// before it were, alpha chosen so the mean is `mean_accepted`. Each draw is a hash of
/// (seed, request, that request's decode step), so every layout sees the same token sequence.
class acceptance {
public:
    acceptance(std::int32_t draft_tokens, double mean_accepted, std::uint64_t seed);
    /// Accepted drafts, in [0, draft_tokens], for decode step `step` of request `request`.
    std::int32_t accepted(std::int32_t request, std::int64_t step) const noexcept;
    double alpha() const noexcept { return alpha_; }
    /// The mean that alpha gives: alpha + alpha^2 + ... + alpha^d.
    double mean() const noexcept;

private:
    std::int32_t drafts_;
    double alpha_;
    std::uint64_t seed_;
};

/// A uniform double in [0, 1) from a 64-bit hash of the inputs (splitmix64 finalizer).
double uniform_hash(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c) noexcept;

}  // namespace engine_sim
