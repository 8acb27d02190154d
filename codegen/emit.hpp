// The emitters: each turns one checked File into the text of one output file.
//
// Emitters are pure functions of the tree and the context: same input, same
// bytes out (golden tests rely on it). They never fail; everything that could
// make generated code ill-formed is rejected by the checks before.
#pragma once

#include "ast.hpp"

#include <string>
#include <vector>

namespace milkc {

struct EmitContext {
    // The contract file's name as the banner shows it: the base name only,
    // so output does not depend on where the tree is checked out.
    std::string source_name;
    // milkc's version, for the banner.
    std::string milkc_version;
};

// fs.contract -> fs.hpp
[[nodiscard]] std::string emit_cpp(const File& file, const EmitContext& context);
// fs.contract -> fs.kstub.h
[[nodiscard]] std::string emit_kernel(const File& file, const EmitContext& context);
// milk_kstub_common.h: the shared part of every .kstub.h, alone.
[[nodiscard]] std::string emit_kernel_common(const EmitContext& context);
// fs.contract -> fs.dot
[[nodiscard]] std::string emit_dot(const File& file, const EmitContext& context);
// fs.contract -> fs.pml
[[nodiscard]] std::string emit_promela(const File& file, const EmitContext& context);

// One component of milk.ko's registry (milkc --emit kernel-registry).
struct KernelComponent {
    std::string name;         // "echo": what MILK_IOC_OPEN_CHANNEL names
    std::string type;         // "components::echo::Echo": a milk::Component
    std::string header;       // "echo/echo_component.hpp", relative to components/
    std::string contract_stem;  // "pingpong": the .kstub.h and .hpp milkc writes
    const File* file = nullptr;            // the checked contract file
    const ContractDecl* contract = nullptr;  // the contract the component serves
};

// milk_components.cpp: the registry of the components compiled into milk.ko.
[[nodiscard]] std::string emit_kernel_registry(const std::vector<KernelComponent>& components,
                                               const EmitContext& context);
// milk_components.kbuild: what Kbuild needs to compile them.
[[nodiscard]] std::string emit_kernel_registry_kbuild(const std::vector<KernelComponent>& components,
                                                      const EmitContext& context);

}  // namespace milkc
