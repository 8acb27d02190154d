// Logging from the core: a thin typed layer over milk_shim_log.
#pragma once

#include "milk_core.h"

namespace milk::kernel {

inline void log(milk_log_level level, const char* text, long long value = 0) {
    milk_shim_log(level, text, value);
}

}  // namespace milk::kernel
