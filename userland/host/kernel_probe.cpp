// The default kernel probes (milk/host/kernel_probe.hpp).
#include <milk/host/kernel_probe.hpp>

#include <milk_uapi.h>

#include <algorithm>
#include <utility>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace milk::host {

KernelProbe device_kernel_probe(std::string device) {
    return KernelProbe{[device = std::move(device)](std::string_view) {
        // Opened per question: a config check asks once per kernel instance,
        // and an fd kept open would pin the module for as long as the probe
        // lives.
        int fd = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) return KernelAvailability::NotLoaded;
        milk_version version{};
        int status = ::ioctl(fd, MILK_IOC_VERSION, &version);
        ::close(fd);
        // A device that does not answer, or a module of another ABI, cannot
        // run this host's channels: for the config that is no milk.ko.
        if (status != 0 || version.abi_version != MILK_ABI_VERSION) return KernelAvailability::NotLoaded;
        return KernelAvailability::Available;
    }};
}

KernelProbe fixed_kernel_probe(std::vector<std::string> components) {
    return KernelProbe{[components = std::move(components)](std::string_view component) {
        bool found = std::find(components.begin(), components.end(), component) != components.end();
        return found ? KernelAvailability::Available : KernelAvailability::Missing;
    }};
}

}  // namespace milk::host
