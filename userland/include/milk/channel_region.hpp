// A channel's shared region: its layout (region_layout.hpp, kernel-safe) and
// the doorbells that wait on its words (doorbell.hpp, user space only).
//
// The layout used to live here; it moved to region_layout.hpp so that milk.ko
// can include it without doorbell.hpp's <chrono>. User-space code keeps
// including this header.
#pragma once

#include "doorbell.hpp"
#include "region_layout.hpp"
