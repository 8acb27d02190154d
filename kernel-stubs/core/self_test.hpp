// A check the core runs at module load, before /dev/milk exists.
#pragma once

#include <milk/result.hpp>

namespace milk::kernel {

// Checks, with the core's own code, what must hold for the channel layouts
// to match user space's; returns how many layouts were checked. A failure
// refuses the module load (EINVAL) instead of serving a broken ABI.
[[nodiscard]] Result<int> run_self_test();

}  // namespace milk::kernel
