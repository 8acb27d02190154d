// The other direction of trust: a child process that creates the channel
// and lies about it. The honest side here attaches (receive_channel): it
// must refuse a memfd whose header, size or seals are wrong, or whose ring
// indices are already corrupt, and a handshake that is not milk's, with a
// `what` that names the problem; and the lying creator must be told.
#include "peer_process.hpp"
#include "raw_handshake.hpp"

#include <milk/process.hpp>
#include <milk/region_layout.hpp>
#include <milk/ring.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

using milk::Deadline;
using milk::ErrorCode;
using milk::process::HandshakeKind;
using milk::process::HandshakeMessage;
using milk::process::RegionFileHeader;
using milk::test::ChildProcess;
using milk::test::send_raw;

const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

// What a hostile creator does to the memfd of a real channel before it
// sends it with send_channel().
using Tamper = void (*)(int fd);

RegionFileHeader read_header(int fd) {
    RegionFileHeader header{};
    if (::pread(fd, &header, sizeof header, 0) != sizeof header) std::abort();
    return header;
}

void write_header(int fd, const RegionFileHeader& header) {
    if (::pwrite(fd, &header, sizeof header, 0) != sizeof header) std::abort();
}

// Runs a creator child that tampers with a fresh channel and offers it; the
// parent attaches. Returns the parent's error; the child's exit code says
// whether send_channel told it that the peer refused with `code`.
milk::Error attach_tampered(Tamper tamper, ErrorCode code) {
    int sockets[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) == 0);
    auto child = ChildProcess::start([&] {
        ::close(sockets[0]);
        auto pending = milk::process::create_channel({.ring_capacity = 16, .heap_bytes_per_side = 1u << 16});
        if (!pending.ok()) return 1;
        tamper(pending.value().fd());
        auto end = milk::process::send_channel(sockets[1], std::move(pending).value(), Deadline::after(std::chrono::seconds(30)));
        if (end.ok()) return 2;
        return end.error().code == ErrorCode::PeerClosed && end.error().detail == static_cast<std::int64_t>(code)
                   ? 0
                   : 3;
    });
    ::close(sockets[1]);
    auto end = milk::process::receive_channel(sockets[0], Deadline::after(std::chrono::seconds(30)));
    ::close(sockets[0]);
    REQUIRE_FALSE(end.ok());
    CHECK(child.wait() == 0);
    return end.error();
}

void check(const milk::Error& error, ErrorCode code, const char* what) {
    CHECK(error.code == code);
    REQUIRE(error.what != nullptr);
    CHECK(std::string(error.what) == what);
}

// A child that sends `data` (with fds made by `make_fds`) as its offer and
// expects a Refuse; the parent's receive_channel error comes back.
template <typename MakeFds>
milk::Error attach_raw_offer(const void* data, std::size_t size, MakeFds make_fds) {
    int sockets[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) == 0);
    auto child = ChildProcess::start([&] {
        ::close(sockets[0]);
        int fds[4] = {-1, -1, -1, -1};
        const std::size_t count = make_fds(fds);
        send_raw(sockets[1], data, size, fds, count);
        HandshakeMessage answer{};
        if (::recv(sockets[1], &answer, sizeof answer, 0) != sizeof answer) return 1;
        return answer.kind == static_cast<std::uint32_t>(HandshakeKind::Refuse) ? 0 : 2;
    });
    ::close(sockets[1]);
    auto end = milk::process::receive_channel(sockets[0], Deadline::after(std::chrono::seconds(30)));
    ::close(sockets[0]);
    REQUIRE_FALSE(end.ok());
    CHECK(child.wait() == 0);
    return end.error();
}

int sealed_memfd(std::size_t size, unsigned seals) {
    const int fd = ::memfd_create("hostile", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size)) != 0) std::abort();
    if (seals != 0 && ::fcntl(fd, F_ADD_SEALS, seals) != 0) std::abort();
    return fd;
}

const HandshakeMessage offer{milk::process::handshake_magic, static_cast<std::uint32_t>(HandshakeKind::Offer), 0};

}  // namespace

TEST_CASE("hostile creator: a header with a bad magic number is refused") {
    const auto error = attach_tampered(
        [](int fd) {
            auto header = read_header(fd);
            header.magic = 0x1234;
            write_header(fd, header);
        },
        ErrorCode::ProtocolViolation);
    check(error, ErrorCode::ProtocolViolation, "channel header has a bad magic number (not a milk channel)");
}

TEST_CASE("hostile creator: a header of another version is refused") {
    const auto error = attach_tampered(
        [](int fd) {
            auto header = read_header(fd);
            header.version = 99;
            write_header(fd, header);
        },
        ErrorCode::ProtocolViolation);
    check(error, ErrorCode::ProtocolViolation, "channel header has an unsupported version");
    CHECK(error.detail == 99);
}

TEST_CASE("hostile creator: a header size other than the page size is refused") {
    const auto error = attach_tampered(
        [](int fd) {
            auto header = read_header(fd);
            header.header_bytes = 64;
            write_header(fd, header);
        },
        ErrorCode::ProtocolViolation);
    check(error, ErrorCode::ProtocolViolation, "channel header size is not the page size");
}

TEST_CASE("hostile creator: an unknown wait mode is refused") {
    const auto error = attach_tampered(
        [](int fd) {
            auto header = read_header(fd);
            header.wait_mode = 7;
            write_header(fd, header);
        },
        ErrorCode::ProtocolViolation);
    check(error, ErrorCode::ProtocolViolation, "channel header names an unknown wait mode");
}

TEST_CASE("hostile creator: a ring capacity that is not a power of two is refused") {
    const auto error = attach_tampered(
        [](int fd) {
            auto header = read_header(fd);
            header.ring_capacity = 17;
            write_header(fd, header);
        },
        ErrorCode::ProtocolViolation);
    check(error, ErrorCode::ProtocolViolation, "ring capacity must be a power of two in [2, 2^24]");
}

TEST_CASE("hostile creator: sizes in the header that do not fit the file are refused") {
    SUBCASE("a larger ring than the file holds") {
        const auto error = attach_tampered(
            [](int fd) {
                auto header = read_header(fd);
                header.ring_capacity = 1u << 20;
                header.channel_bytes = milk::ChannelRegionLayout::compute(header.ring_capacity, header.pool_bytes)
                                           .value()
                                           .total_bytes;
                write_header(fd, header);
            },
            ErrorCode::ProtocolViolation);
        check(error, ErrorCode::ProtocolViolation, "channel memfd size does not match its header");
    }
    SUBCASE("a total that does not match capacity and pool") {
        const auto error = attach_tampered(
            [](int fd) {
                auto header = read_header(fd);
                header.channel_bytes += 4096;
                write_header(fd, header);
            },
            ErrorCode::ProtocolViolation);
        check(error, ErrorCode::ProtocolViolation,
              "channel header size does not match its ring capacity and pool size");
    }
}

TEST_CASE("hostile creator: ring indices corrupt before the attach are refused") {
    const auto error = attach_tampered(
        [](int fd) {
            auto header = read_header(fd);
            const auto layout = milk::ChannelRegionLayout::compute(header.ring_capacity, header.pool_bytes).value();
            // Ring 0 (the attacher consumes it) claims 1000 messages.
            const std::uint32_t producer = 1000;
            const auto at = static_cast<off_t>(page + layout.message_ring_offset[0] +
                                               offsetof(milk::RingHeader, producer_index));
            if (::pwrite(fd, &producer, sizeof producer, at) != sizeof producer) std::abort();
        },
        ErrorCode::CorruptRing);
    check(error, ErrorCode::CorruptRing, "producer index outside [consumer, consumer + capacity]");
    CHECK(error.detail == 1000);
}

TEST_CASE("hostile creator: a memfd that is not sealed, or not a memfd, is refused") {
    SUBCASE("no seals at all") {
        const auto error = attach_raw_offer(&offer, sizeof offer, [](int* fds) {
            fds[0] = sealed_memfd(1 << 20, 0);
            return std::size_t{1};
        });
        check(error, ErrorCode::ProtocolViolation, "channel memfd is not sealed against shrinking and growing");
    }
    SUBCASE("sealed against growing only: it could still shrink under us") {
        const auto error = attach_raw_offer(&offer, sizeof offer, [](int* fds) {
            fds[0] = sealed_memfd(1 << 20, F_SEAL_GROW);
            return std::size_t{1};
        });
        check(error, ErrorCode::ProtocolViolation, "channel memfd is not sealed against shrinking and growing");
    }
    SUBCASE("a pipe") {
        const auto error = attach_raw_offer(&offer, sizeof offer, [](int* fds) {
            int pipe_fds[2];
            if (::pipe(pipe_fds) != 0) std::abort();
            fds[0] = pipe_fds[0];
            return std::size_t{1};
        });
        check(error, ErrorCode::ProtocolViolation, "channel fd is not a memfd (not a regular file)");
    }
    SUBCASE("a sealed memfd too short for a header") {
        const auto error = attach_raw_offer(&offer, sizeof offer, [](int* fds) {
            fds[0] = sealed_memfd(16, F_SEAL_SHRINK | F_SEAL_GROW);
            return std::size_t{1};
        });
        check(error, ErrorCode::ProtocolViolation, "channel memfd is shorter than its header page");
    }
}

TEST_CASE("hostile creator: a handshake that is not milk's is refused") {
    SUBCASE("an offer without a memfd") {
        const auto error = attach_raw_offer(&offer, sizeof offer, [](int*) { return std::size_t{0}; });
        check(error, ErrorCode::ProtocolViolation, "the channel offer carried no memfd");
    }
    SUBCASE("an offer with two descriptors") {
        const auto error = attach_raw_offer(&offer, sizeof offer, [](int* fds) {
            fds[0] = sealed_memfd(1 << 20, F_SEAL_SHRINK | F_SEAL_GROW);
            fds[1] = sealed_memfd(1 << 20, F_SEAL_SHRINK | F_SEAL_GROW);
            return std::size_t{2};
        });
        check(error, ErrorCode::ProtocolViolation, "channel handshake with extra data or descriptors");
    }
    SUBCASE("a record of the wrong size") {
        const char garbage[8] = "garbage";
        const auto error = attach_raw_offer(garbage, sizeof garbage, [](int*) { return std::size_t{0}; });
        check(error, ErrorCode::ProtocolViolation, "channel handshake message is not milk's");
    }
    SUBCASE("an answer where an offer belongs") {
        const HandshakeMessage accept{milk::process::handshake_magic,
                                      static_cast<std::uint32_t>(HandshakeKind::Accept), 0};
        const auto error = attach_raw_offer(&accept, sizeof accept, [](int*) { return std::size_t{0}; });
        check(error, ErrorCode::ProtocolViolation, "expected a channel offer");
    }
}
