// A component's settings as user space sends them (struct milk_settings, a
// table of up to 8 names and values), checked and copied into the same
// milk::Settings the component gets in user space. MILK_IOC_OPEN_CHANNEL
// and MILK_IOC_SCHED_CREATE (a policy in the module) both take one.
#pragma once

#include "milk_uapi.h"

#include <milk/component.hpp>
#include <milk/result.hpp>

#include <cstddef>

namespace milk::kernel {

// Whether a fixed-size name field of user memory (copied once) ends inside
// itself.
template <std::size_t N>
bool terminated(const char (&field)[N]) {
    for (char c : field)
        if (c == '\0') return true;
    return false;
}

// The settings of `table`, with the same rules for names as in user space.
// InvalidArgument (EINVAL) for more than 8, a reserved field not 0, a name
// unterminated, malformed or given twice.
[[nodiscard]] Result<Settings> copy_settings(const milk_settings& table);

}  // namespace milk::kernel
