// milk.ko's registry of components: milkc --emit kernel-registry.
//
//   milk_components.cpp     includes each component's header with its
//                           contract's generated .hpp and .kstub.h, and
//                           defines the registry array milk.ko's core reads
//                           (kernel-stubs/core/component_entry.hpp)
//   milk_components.kbuild  the include folders Kbuild adds for them
//   milk_kstub_common.h     the stub headers' shared part alone, for the
//                           core, which names no contract
//
// The list comes from the build (components/CMakeLists.txt, one
// milk_component() call per component) in its order; the output depends on
// nothing else, so the same list gives the same bytes.
#include "emit.hpp"
#include "emit_util.hpp"

#include <set>
#include <string>
#include <vector>

namespace milkc {
namespace {

std::string qualified_name(const File& file, const ContractDecl& contract) {
    std::string name;
    for (const std::string& part : file.package) name += part + ".";
    return name + contract.name;
}

std::string header_folder(const std::string& header) {
    const std::size_t slash = header.rfind('/');
    return slash == std::string::npos ? std::string() : header.substr(0, slash);
}

}  // namespace

std::string emit_kernel_registry(const std::vector<KernelComponent>& components, const EmitContext& context) {
    std::string out;
    out += "// " + emit_util::banner_text(context) + "\n";
    out += "//\n";
    out += "// The components compiled into milk.ko, in the order of the list. Each entry\n";
    out += "// is the component's C++ type (a milk::Component, the same source as in user\n";
    out += "// space) and its contract's kernel descriptor (the .kstub.h milkc writes);\n";
    out += "// kernel-stubs/core/component_entry.hpp turns the pair into what the module\n";
    out += "// registers. All components are one translation unit on purpose: Kbuild's\n";
    out += "// ftrace records and `ld -r` need one copy of the endpoint machinery they\n";
    out += "// share (kernel-stubs/Kbuild explains).\n";
    out += "#include \"component_entry.hpp\"\n\n";
    std::set<std::string> stems;
    for (const KernelComponent& component : components) {
        if (!stems.insert(component.contract_stem).second) continue;
        out += "#include \"" + component.contract_stem + ".hpp\"\n";
        out += "#include \"" + component.contract_stem + ".kstub.h\"\n";
    }
    for (const KernelComponent& component : components) out += "#include \"" + component.header + "\"\n";
    out += "\nnamespace milk::kernel {\n\n";
    for (const KernelComponent& component : components) {
        const std::string descriptor =
            emit_util::c_prefix(*component.file) + component.contract->name + "__kcontract";
        out += "// " + component.name + ": " + component.type + ", serving " +
               qualified_name(*component.file, *component.contract) + ".\n";
        out += "static_assert(milk::Component<" + component.type + ">, \"" + component.name +
               ": not a milk::Component (userland/include/milk/component.hpp)\");\n";
        out += "static_assert(same_text(" + component.type + "::Contract::name, " + descriptor +
               ".name), \"" + component.name + ": its C++ Contract is not the contract the list names\");\n";
        out += "static_assert(" + component.type + "::Contract::version == " + descriptor + ".version, \"" +
               component.name + ": its contract's C++ and kernel versions differ\");\n\n";
    }
    out += "namespace {\n\n";
    out += "constinit const ComponentEntry registry[] = {\n";
    for (const KernelComponent& component : components) {
        const std::string descriptor =
            emit_util::c_prefix(*component.file) + component.contract->name + "__kcontract";
        out += "    component_entry<" + component.type + ">(\"" + component.name + "\", " + descriptor + "),\n";
    }
    out += "};\n\n";
    out += "}  // namespace\n\n";
    out += "std::span<const ComponentEntry> compiled_components() { return registry; }\n\n";
    out += "}  // namespace milk::kernel\n";
    return out;
}

std::string emit_kernel_registry_kbuild(const std::vector<KernelComponent>& components, const EmitContext& context) {
    std::string out;
    out += "# " + emit_util::banner_text(context) + "\n";
    out += "#\n";
    out += "# Included by kernel-stubs/Kbuild: the components compiled into milk.ko and the\n";
    out += "# folders (under $(MILK_COMPONENTS), the staged copy of components/) their\n";
    out += "# headers are in.\n";
    out += "milk-components :=";
    for (const KernelComponent& component : components) out += " " + component.name;
    out += "\n";
    out += "milk-component-dirs :=";
    std::set<std::string> seen;
    for (const KernelComponent& component : components) {
        const std::string folder = header_folder(component.header);
        if (!folder.empty() && seen.insert(folder).second) out += " " + folder;
    }
    out += "\n";
    return out;
}

}  // namespace milkc
