// expect: bad_setting_names
// A component's declared settings are checked when it compiles: at most 8
// (no config may give more) and each a name a config can write ([a-z0-9_],
// 1-23 bytes). Here a ninth name; "Limit" would fail the same way.
#include <milk/component.hpp>

constexpr milk::SettingNames too_many{"a", "b", "c", "d", "e", "f", "g", "h", "i"};
