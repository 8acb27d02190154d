// What the two sides of a `bytes` case do with the payload. Every transport
// (milk, pipe, Unix socket) runs exactly this, so the rows differ only in
// how the bytes travel.
//
// Before the timed loop, the client fills its whole payload buffer once (so
// that no row pays for first-touch page faults), and the server fills its
// receive buffer once where it has one (pipe, socket).
//
// Touch::Stamp (the zero-copy comparison): per round trip the client writes
// the sequence number into the first 8 bytes of the payload and sends it;
// the server reads those 8 bytes and checks them; it answers with the same
// bytes (milk: hands the very same buffer back; pipe and socket: writes the
// bytes it read back); the client checks the first 8 bytes of the answer.
// The application touches one cache line per message whatever the size, so
// that whatever grows with the size is the transport's own work. (Touching
// the last bytes too would touch one line at 64 B but two at every larger
// size, and the 1 MiB / 64 B ratio would measure that, not copying.)
//
// Touch::Full (what processing the data costs): per round trip the client
// writes every 8-byte word of the payload (word i = seq + i), the server
// reads every word and checks their sum, and the answer is as above.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace milk::bench {

enum class Touch : std::uint8_t { Stamp, Full };

[[nodiscard]] inline const char* touch_name(Touch touch) { return touch == Touch::Stamp ? "stamp" : "full"; }

[[nodiscard]] inline std::uint64_t read_word(std::span<const std::byte> bytes, std::size_t index) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + index * 8, 8);
    return word;
}

inline void write_word(std::span<std::byte> bytes, std::size_t index, std::uint64_t word) {
    std::memcpy(bytes.data() + index * 8, &word, 8);
}

// The sender's part. Sizes are multiples of 8.
inline void write_payload(std::span<std::byte> bytes, std::uint64_t seq, Touch touch) {
    if (touch == Touch::Stamp) {
        write_word(bytes, 0, seq);
        return;
    }
    const std::size_t words = bytes.size() / 8;
    for (std::size_t i = 0; i < words; ++i) write_word(bytes, i, seq + i);
}

// The receiver's part: true if what the sender wrote for `seq` is there.
[[nodiscard]] inline bool check_payload(std::span<const std::byte> bytes, std::uint64_t seq, Touch touch) {
    if (touch == Touch::Stamp) return read_word(bytes, 0) == seq;
    const std::size_t words = bytes.size() / 8;
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < words; ++i) sum += read_word(bytes, i);
    // sum of seq + i for i in [0, words): wraps like the loop does.
    const std::uint64_t n = words;
    return sum == n * seq + n * (n - 1) / 2;
}

// The client's check of the answer: the first word only.
[[nodiscard]] inline bool check_answer(std::span<const std::byte> bytes, std::uint64_t seq) {
    return read_word(bytes, 0) == seq;
}

}  // namespace milk::bench
