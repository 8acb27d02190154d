// libFuzzer target: milkc's front end on arbitrary bytes (verify/fuzz/README
// in docs/verification.md). A contract file is the one input milkc takes from
// users, and build systems run milkc on files they did not write.
//
// Each input is lexed, parsed and checked exactly as `milkc --check` does it,
// the model check runs on what passes, and the diagnostics are rendered (the
// renderer quotes source lines and places carets by byte column, so it reads
// the text at positions the lexer computed). The model check also runs on
// the merely parsed tree, which it promises to accept whatever the checks
// would say (docs/model-checking.md). A crash, a sanitizer report, a hang or
// an accepted file without contracts' invariants is a finding.
#include "compat.hpp"
#include "frontend.hpp"
#include "identity.hpp"
#include "lexer.hpp"
#include "model_check.hpp"
#include "parser.hpp"
#include "source.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // Larger than any contract milkc accepts (the contract at every limit of
    // codegen/limits.hpp is about 150 KB), so that the fuzzer reaches the
    // limits and the inputs that used to take quadratic time; beyond this
    // the search only gets slower.
    if (size > 262144) return -1;
    const milkc::SourceFile source("fuzz.contract", std::string(reinterpret_cast<const char*>(data), size));

    {
        milkc::DiagnosticSink sink(source);
        milkc::LexResult tokens = milkc::lex(source, sink);
        static_cast<void>(tokens);
        static_cast<void>(sink.render());
    }
    {
        milkc::DiagnosticSink sink(source);
        // As milkc does it: a file whose only fault is a mixed state is
        // model-checked too, to explain the race.
        std::optional<milkc::File> file = milkc::parse_and_check(source, sink, milkc::explain_mixed_states);
        // parse_and_check's contract: a tree exactly when nothing was reported.
        if (file.has_value() == sink.has_errors()) std::abort();
        if (file) {
            for (const milkc::ContractDecl& contract : file->contracts) {
                // Checked trees always have an initial state, and no call of
                // a sub-protocol or `return` is left after the expansion.
                if (contract.initial == nullptr) std::abort();
                for (const milkc::StateDecl& state : contract.states) {
                    for (const milkc::Transition& transition : state.transitions) {
                        if (!transition.call.empty() || transition.target == "return") std::abort();
                    }
                }
                // An identity is never 0 ("none").
                if (milkc::contract_identity(*file, contract) == 0) std::abort();
                static_cast<void>(milkc::model_check(contract, sink, {.queue_bound = 1}));
            }
            // Every contract may evolve into itself.
            milkc::DiagnosticSink compat(source);
            milkc::check_compat(*file, "fuzz.contract", *file, compat);
            if (compat.has_errors()) std::abort();
        }
        static_cast<void>(sink.render());
    }
    {
        milkc::DiagnosticSink sink(source);
        milkc::ParseResult parsed = milkc::parse(source, sink);
        if (parsed.syntax_ok) {
            for (const milkc::ContractDecl& contract : parsed.file.contracts) {
                // The composed system grows fast with unchecked trees; one
                // message per queue keeps an iteration quick and still finds
                // every kind of problem.
                if (contract.states.size() > 16 || contract.messages.size() > 16) continue;
                static_cast<void>(milkc::model_check(contract, sink, {.queue_bound = 1}));
            }
        }
        static_cast<void>(sink.render());
    }
    return 0;
}
