// replay: re-executes pagedkv traces against fresh pools and reports the first divergence.
//   replay TRACE...    (`-` reads standard input)
// Exit status 0 when every trace replays to the same results, digests and invariants; 1 otherwise.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string_view>

#include <pagedkv/debug/trace.hpp>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(
            stderr,
            "usage: replay TRACE...   (- for standard input; format: include/pagedkv/debug/trace_recorder.hpp)\n");
        return 2;
    }
    int rc = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string_view name = argv[i];
        std::ifstream file;
        if (name != "-") {
            file.open(argv[i]);
            if (!file) {
                std::fprintf(stderr, "%s: cannot open\n", argv[i]);
                rc = 1;
                continue;
            }
        }
        const pagedkv::replay_report rep = pagedkv::replay_trace(name == "-" ? std::cin : file);
        if (rep.ok()) {
            std::printf("%s: %lld calls replayed, no divergence\n", argv[i], static_cast<long long>(rep.steps));
        } else {
            std::printf("%s: diverges at step %lld (line %lld): %s\n", argv[i],
                        static_cast<long long>(rep.divergent_step), static_cast<long long>(rep.line),
                        rep.message.c_str());
            rc = 1;
        }
    }
    return rc;
}
