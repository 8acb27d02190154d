// A scope that holds one of the shim's sleeping mutexes
// (milk_shim_mutex_create): locked when made, unlocked when it ends.
#pragma once

#include "milk_core.h"

namespace milk::kernel {

class MutexGuard {
public:
    explicit MutexGuard(void* mutex) : m_mutex(mutex) { milk_shim_mutex_lock(m_mutex); }
    ~MutexGuard() { milk_shim_mutex_unlock(m_mutex); }
    MutexGuard(const MutexGuard&) = delete;
    MutexGuard& operator=(const MutexGuard&) = delete;

private:
    void* m_mutex;
};

}  // namespace milk::kernel
