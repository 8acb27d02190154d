// What the host knows about milk.ko when it checks a config: whether the
// module is loaded, and whether it has a given component. Checking a config
// asks this for every instance placed in the kernel, so that `kernel` on a
// machine without milk.ko is an error before anything starts, never a silent
// fall back to another placement.
//
// A probe is a function, so that what answers it is easy to replace: the
// host plugs in the module's own component list, tests a fixed answer.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace milk::host {

enum class KernelAvailability : std::uint8_t {
    // No milk.ko (no device, or a device of another ABI version).
    NotLoaded,
    // milk.ko is loaded but was built without the component.
    Missing,
    Available,
};

struct KernelProbe {
    // `component` is the name a config uses (ComponentType::name).
    std::function<KernelAvailability(std::string_view component)> query;
};

// Asks the device: NotLoaded when it cannot be opened or answers
// MILK_IOC_VERSION with another ABI version, Available otherwise. It cannot
// tell Missing: which components a module has is the module's own list,
// which the host adds on top of this (milk::kernel::component_info).
[[nodiscard]] KernelProbe device_kernel_probe(std::string device = "/dev/milk");

// For tests: a module that is loaded and has exactly `components`.
[[nodiscard]] KernelProbe fixed_kernel_probe(std::vector<std::string> components);

}  // namespace milk::host
