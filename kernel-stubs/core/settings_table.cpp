// Settings tables from user space (settings_table.hpp).
#include "settings_table.hpp"

#include <cstdint>
#include <string_view>

namespace milk::kernel {

Result<Settings> copy_settings(const milk_settings& table) {
    if (table.count > MILK_SETTINGS_MAX)
        return Error{ErrorCode::InvalidArgument, "more than 8 settings", table.count};
    if (table.reserved != 0) return Error{ErrorCode::InvalidArgument, "settings: reserved field not 0", 0};
    Settings settings;
    for (std::uint32_t i = 0; i < table.count; ++i) {
        const milk_setting& entry = table.entries[i];
        if (!terminated(entry.name)) return Error{ErrorCode::InvalidArgument, "a setting's name is not terminated", i};
        std::size_t length = 0;
        while (entry.name[length] != '\0') ++length;
        const std::string_view name(entry.name, length);
        if (settings.find(name)) return Error{ErrorCode::InvalidArgument, "a setting is named twice", i};
        MILK_TRY(settings.set(name, entry.value));
    }
    return settings;
}

}  // namespace milk::kernel
