// The block service (components/blk) over contracts/blk.contract, placed by
// the host in its own process and in a process of its own, driven through
// BlkClient as a block device's driver would: batches of requests up to the
// queue depth, every block written read back.
#include "blk/blk_client.hpp"
#include "blk/blk_component.hpp"
#include "blk/blk_file_component.hpp"

#include "../host/one_instance_host.hpp"

#include <milk/host/component_type.hpp>
#include <milk/host/host.hpp>
#include <milk/inproc.hpp>

#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

using components::blk::BlkClient;
using components::blk::Request;
using components::blk::RequestKind;
using milk::Placement;
using milk::blk::BlkStatus;
namespace Blk = milk::blk::Blk;

constexpr auto answer_timeout = std::chrono::seconds(10);

template <typename T>
T take(milk::Result<T>&& result) {
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().what));
    return std::move(result).value();
}

// A file for blk_file's blocks, gone with the test.
class TempFile {
public:
    TempFile() {
        char name[] = "/tmp/milk-blk-test-XXXXXX";
        const int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        ::close(fd);
        m_path = name;
    }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() { ::unlink(m_path.c_str()); }
    [[nodiscard]] const std::string& path() const { return m_path; }
    // The file's bytes, as a program reading it directly sees them.
    [[nodiscard]] std::vector<std::byte> bytes() const {
        std::ifstream in(m_path, std::ios::binary);
        std::vector<char> chars{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        std::vector<std::byte> out(chars.size());
        std::memcpy(out.data(), chars.data(), chars.size());
        return out;
    }

private:
    std::string m_path;
};

// The two block services: blk_ram, and blk_file over a file of the test's.
struct Service {
    const char* component;
    const TempFile* file = nullptr;
};

milk::host::Host make_host(Placement placement, const milk::Settings& settings = {}, Service service = {"blk_ram"}) {
    milk::Settings with_path = settings;
    if (service.file != nullptr) REQUIRE(with_path.set_text("path", service.file->path()).ok());
    return milk::test::make_one_instance_host("disk", service.component, placement, with_path);
}

BlkClient connect(milk::host::Host& host, std::uint32_t depth) {
    return take(BlkClient::try_connect(take(host.connect<Blk::Contract>("disk")), depth, answer_timeout));
}

// A block's worth of bytes saying which block and which pass wrote it.
std::vector<std::byte> pattern(std::uint64_t block, std::uint32_t blocks, std::uint32_t block_size, std::uint8_t pass) {
    std::vector<std::byte> bytes(std::size_t{blocks} * block_size);
    for (std::size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = static_cast<std::byte>((block * 31 + i / block_size * 7 + i + pass) & 0xff);
    return bytes;
}

struct Answer {
    BlkStatus status;
    std::vector<std::byte> data;
};

// One batch; each tag's answer.
std::vector<Answer> run(BlkClient& disk, std::span<const Request> batch) {
    std::vector<Answer> answers(disk.device().depth, Answer{BlkStatus::bad_request, {}});
    std::vector<int> seen(disk.device().depth, 0);
    auto submitted = disk.submit(batch, answer_timeout, [&](std::uint32_t tag, BlkStatus status, std::span<const std::byte> data) {
        ++seen[tag];
        answers[tag] = Answer{status, std::vector<std::byte>(data.begin(), data.end())};
    });
    REQUIRE_MESSAGE(submitted.ok(), (submitted.ok() ? "" : submitted.error().what));
    for (const Request& request : batch) CHECK(seen[request.tag] == 1);
    return answers;
}

}  // namespace

TEST_CASE("blk_ram and blk_file: batches up to the queue depth, every block written read back, in each placement") {
    const TempFile file;
    for (const Service service : {Service{"blk_ram"}, Service{"blk_file", &file}})
    for (Placement placement : {Placement::Inproc, Placement::Process}) {
        CAPTURE(service.component);
        CAPTURE(static_cast<int>(placement));
        // Each round starts from a file of zeros, as blk_ram from memory.
        REQUIRE(::truncate(file.path().c_str(), 0) == 0);
        milk::Settings settings;
        REQUIRE(settings.set("blocks", 256).ok());
        auto host = make_host(placement, settings, service);
        auto disk = connect(host, 16);
        CHECK(disk.device().blocks == 256);
        CHECK(disk.device().block_size == 4096);
        CHECK(disk.device().depth == 16);
        // Sixteen writes of two blocks each in one batch, then sixteen reads.
        std::vector<std::vector<std::byte>> written;
        std::vector<Request> writes;
        for (std::uint32_t tag = 0; tag < 16; ++tag) {
            written.push_back(pattern(tag * 16, 2, 4096, 1));
            writes.push_back({RequestKind::write, tag, tag * 16u, 0, written.back()});
        }
        for (const Answer& answer : run(disk, writes)) CHECK(answer.status == BlkStatus::ok);
        std::vector<Request> reads;
        for (std::uint32_t tag = 0; tag < 16; ++tag) reads.push_back({RequestKind::read, 15 - tag, tag * 16u, 2, {}});
        const auto answers = run(disk, reads);
        for (std::uint32_t tag = 0; tag < 16; ++tag) {
            CHECK(answers[15 - tag].status == BlkStatus::ok);
            CHECK(answers[15 - tag].data == written[tag]);
        }
        // Blocks never written read as zeros; a flush completes.
        const std::array<Request, 2> zeros{Request{RequestKind::read, 3, 100, 1, {}}, Request{RequestKind::flush, 4, 0, 0, {}}};
        const auto zero_answers = run(disk, zeros);
        CHECK(zero_answers[3].data == std::vector<std::byte>(4096, std::byte{0}));
        CHECK(zero_answers[4].status == BlkStatus::ok);
        CHECK(disk.bye().ok());
    }
}

TEST_CASE("BlkClient: a write without data has its blocks written into the exchange heap by the fill, in each placement") {
    for (Placement placement : {Placement::Inproc, Placement::Process}) {
        CAPTURE(static_cast<int>(placement));
        milk::Settings settings;
        REQUIRE(settings.set("blocks", 64).ok());
        auto host = make_host(placement, settings);
        auto disk = connect(host, 4);
        // Two filled writes of 3 and 1 blocks; the fill sees a buffer of
        // exactly count blocks, once per write.
        const auto first = pattern(5, 3, 4096, 9);
        const auto second = pattern(20, 1, 4096, 9);
        const std::array<Request, 2> writes{Request{RequestKind::write, 0, 5, 3, {}}, Request{RequestKind::write, 1, 20, 1, {}}};
        std::vector<std::size_t> filled(2, 0);
        auto fill = [&](std::uint32_t tag, std::span<std::byte> into) -> milk::Result<void> {
            const auto& source = tag == 0 ? first : second;
            filled[tag] = into.size();
            REQUIRE(into.size() == source.size());
            std::memcpy(into.data(), source.data(), source.size());
            return {};
        };
        int ok = 0;
        REQUIRE(disk.submit(writes, answer_timeout,
                            [&](std::uint32_t, BlkStatus status, std::span<const std::byte>) { ok += status == BlkStatus::ok; },
                            fill)
                    .ok());
        CHECK(ok == 2);
        CHECK(filled == std::vector<std::size_t>{3 * 4096, 4096});
        const std::array<Request, 2> reads{Request{RequestKind::read, 0, 5, 3, {}}, Request{RequestKind::read, 1, 20, 1, {}}};
        const auto answers = run(disk, reads);
        CHECK(answers[0].data == first);
        CHECK(answers[1].data == second);
        // A fill that fails fails the batch (the channel is then gone).
        const std::array<Request, 1> failing{Request{RequestKind::write, 2, 0, 1, {}}};
        auto refused = disk.submit(failing, answer_timeout, [](std::uint32_t, BlkStatus, std::span<const std::byte>) {},
                                   [](std::uint32_t, std::span<std::byte>) -> milk::Result<void> {
                                       return milk::Error{milk::ErrorCode::SystemError, "no data", 0};
                                   });
        CHECK_FALSE(refused.ok());
    }
}

TEST_CASE("blk_ram and blk_file: a discarded range reads as zeros, and what lies outside the device or is no whole block fails alone") {
    const TempFile file;
    for (const Service service : {Service{"blk_ram"}, Service{"blk_file", &file}}) {
    CAPTURE(service.component);
    auto host = make_host(Placement::Inproc, {}, service);
    auto disk = connect(host, 8);
    const auto data = pattern(10, 4, 4096, 2);
    const std::array<Request, 1> write{Request{RequestKind::write, 0, 10, 0, data}};
    CHECK(run(disk, write)[0].status == BlkStatus::ok);
    const std::vector<std::byte> half(2048, std::byte{1});
    const std::uint64_t last = disk.device().blocks - 1;
    const std::array<Request, 6> batch{
        Request{RequestKind::discard, 0, 11, 2, {}},
        Request{RequestKind::read, 1, last, 2, {}},          // past the end
        Request{RequestKind::write, 2, 3, 0, half},           // half a block
        Request{RequestKind::discard, 3, last + 1, 1, {}},    // past the end
        Request{RequestKind::read, 4, 0, 0, {}},              // no blocks
        Request{RequestKind::read, 5, 10, 4, {}},
    };
    const auto answers = run(disk, batch);
    CHECK(answers[0].status == BlkStatus::ok);
    CHECK(answers[1].status == BlkStatus::out_of_range);
    CHECK(answers[2].status == BlkStatus::bad_request);
    CHECK(answers[3].status == BlkStatus::out_of_range);
    CHECK(answers[4].status == BlkStatus::out_of_range);
    REQUIRE(answers[5].status == BlkStatus::ok);
    // Blocks 11 and 12 were discarded in the same batch as this read, which
    // may see them either way; a read in the next batch sees zeros.
    const std::array<Request, 1> again{Request{RequestKind::read, 0, 10, 4, {}}};
    const auto after = run(disk, again);
    std::vector<std::byte> expected = data;
    std::fill(expected.begin() + 4096, expected.begin() + 3 * 4096, std::byte{0});
    CHECK(after[0].data == expected);
    CHECK(disk.bye().ok());
    }
}

TEST_CASE("blk_ram: the queue is the smaller depth, and none at all is refused") {
    milk::Settings settings;
    REQUIRE(settings.set("max_depth", 4).ok());
    auto host = make_host(Placement::Inproc, settings);
    auto disk = connect(host, 64);
    CHECK(disk.device().depth == 4);
    // The client keeps to it.
    std::vector<Request> five(5, Request{RequestKind::flush, 0, 0, 0, {}});
    for (std::uint32_t tag = 0; tag < 5; ++tag) five[tag].tag = tag;
    CHECK(disk.submit(five, answer_timeout, [](auto, auto, auto) {}).error().code == milk::ErrorCode::InvalidArgument);
    CHECK(disk.bye().ok());
    auto refused = BlkClient::try_connect(take(host.connect<Blk::Contract>("disk")), 0, answer_timeout);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == milk::ErrorCode::InvalidArgument);
}

TEST_CASE("blk_ram: a driver that reuses a tag in a batch or goes past its depth ends the channel") {
    auto host = make_host(Placement::Inproc);
    for (int rule = 0; rule < 2; ++rule) {
        CAPTURE(rule);
        auto start = take(host.connect<Blk::Contract>("disk"));
        auto greeting = take(std::move(start).send(Blk::Hello{2}));
        std::optional<components::blk::ClientIdle> idle;
        REQUIRE(std::move(greeting)
                    .receive([&](Blk::Welcome&&, components::blk::ClientIdle&& next) { idle.emplace(std::move(next)); },
                             [](Blk::Refused&&) {})
                    .ok());
        REQUIRE(idle);
        auto queued = take(std::move(*idle).send(Blk::Flush{1}));
        // rule 0: tag 1 twice; rule 1: a tag beyond the depth of 2. The
        // service ends the channel when the offending request arrives, so
        // the client's next send may already find it closed (PeerClosed,
        // or the service's ProtocolViolation), or its receive does.
        const auto ended = [](const milk::Error& error) {
            return error.code == milk::ErrorCode::ProtocolViolation || error.code == milk::ErrorCode::PeerClosed;
        };
        auto again = std::move(queued).send(Blk::Flush{rule == 0 ? 1u : 2u});
        if (!again.ok()) {
            CHECK(ended(again.error()));
            continue;
        }
        auto serving = std::move(again).value().send(Blk::Submit{});
        if (!serving.ok()) {
            CHECK(ended(serving.error()));
            continue;
        }
        auto answer = std::move(serving).value().receive_for(
            answer_timeout, [](Blk::ReadDone&&, components::blk::ClientServing&&) { return 1; },
            [](Blk::Done&&, components::blk::ClientServing&&) { return 1; },
            [](Blk::Completed&&, components::blk::ClientIdle&&) { return 2; },
            [](milk::TimedOut, components::blk::ClientServing&&) { return 3; });
        REQUIRE_FALSE(answer.ok());
        CHECK(answer.error().code == milk::ErrorCode::ProtocolViolation);
    }
}

TEST_CASE("blk_ram: settings are checked") {
    milk::Settings settings;
    REQUIRE(settings.set("block_size", 1024).ok());
    CHECK_FALSE(components::blk::RamBlockService::try_create(settings).ok());
    milk::Settings deep;
    REQUIRE(deep.set("max_depth", 5000).ok());
    CHECK_FALSE(components::blk::RamBlockService::try_create(deep).ok());
    milk::Settings none;
    REQUIRE(none.set("blocks", 0).ok());
    CHECK_FALSE(components::blk::RamBlockService::try_create(none).ok());
}

namespace {

// A service that answers its first batch with `answer` (given the first
// request's tag) instead of the truth, then hangs up.
template <typename Answer>
std::thread rogue_service(milk::ChannelEnd&& end, Answer answer) {
    return std::thread([server = Blk::Contract::server(std::move(end)), answer]() mutable {
        struct Greeted {
            std::optional<components::blk::ServerGreeting> greeting;
        };
        auto greeted = std::move(server).receive([](Blk::Hello&&, components::blk::ServerGreeting&& next) {
            return Greeted{std::move(next)};
        });
        if (!greeted.ok()) return;
        auto idle = std::move(*greeted.value().greeting).send(Blk::Welcome{64, 4096, 4});
        if (!idle.ok()) return;
        std::uint32_t tag = 0;
        auto queued = std::move(idle).value().receive(
            [&](Blk::Read&& read, components::blk::ServerQueued&& next) {
                tag = read.tag;
                return std::optional<components::blk::ServerQueued>{std::move(next)};
            },
            [](Blk::Write&&, components::blk::ServerQueued&&) { return std::optional<components::blk::ServerQueued>{}; },
            [](Blk::Flush&&, components::blk::ServerQueued&&) { return std::optional<components::blk::ServerQueued>{}; },
            [](Blk::Discard&&, components::blk::ServerQueued&&) { return std::optional<components::blk::ServerQueued>{}; },
            [](Blk::Bye&&) { return std::optional<components::blk::ServerQueued>{}; });
        if (!queued.ok() || !queued.value()) return;
        auto serving = std::move(*queued.value()).receive(
            [](Blk::Read&&, components::blk::ServerQueued&&) { return std::optional<components::blk::ServerServing>{}; },
            [](Blk::Write&&, components::blk::ServerQueued&&) { return std::optional<components::blk::ServerServing>{}; },
            [](Blk::Flush&&, components::blk::ServerQueued&&) { return std::optional<components::blk::ServerServing>{}; },
            [](Blk::Discard&&, components::blk::ServerQueued&&) { return std::optional<components::blk::ServerServing>{}; },
            [](Blk::Submit&&, components::blk::ServerServing&& next) {
                return std::optional<components::blk::ServerServing>{std::move(next)};
            });
        if (!serving.ok() || !serving.value()) return;
        answer(std::move(*serving.value()), tag);
    });
}

// What the driver makes of the rogue's answer to one read of one block.
milk::Error read_from_rogue(auto answer) {
    auto channel = milk::inproc::open_channel();
    REQUIRE(channel.ok());
    auto [client_end, server_end] = std::move(channel).value();
    std::thread rogue = rogue_service(std::move(server_end), answer);
    auto disk = take(BlkClient::try_connect(Blk::Contract::client(std::move(client_end)), 4, answer_timeout));
    const std::array<Request, 1> read{Request{RequestKind::read, 2, 5, 1, {}}};
    int calls = 0;
    auto submitted = disk.submit(read, answer_timeout, [&](auto, auto, auto) { ++calls; });
    rogue.join();
    REQUIRE_FALSE(submitted.ok());
    // Nothing of the bad answer reached the caller.
    CHECK(calls == 0);
    return submitted.error();
}

}  // namespace

TEST_CASE("BlkClient: a service that answers another tag, the wrong length or a read without its blocks fails the batch") {
    const milk::Error other_tag = read_from_rogue([](components::blk::ServerServing&& serving, std::uint32_t tag) {
        auto data = serving.allocate(4096);
        if (data.ok()) static_cast<void>(std::move(serving).send(Blk::ReadDone{tag + 1, std::move(data).value()}));
    });
    CHECK(other_tag.code == milk::ErrorCode::ProtocolViolation);
    CHECK(std::string(other_tag.what) == "blk: an answer for no request of the batch");

    const milk::Error short_read = read_from_rogue([](components::blk::ServerServing&& serving, std::uint32_t tag) {
        auto data = serving.allocate(512);
        if (data.ok()) static_cast<void>(std::move(serving).send(Blk::ReadDone{tag, std::move(data).value()}));
    });
    CHECK(short_read.code == milk::ErrorCode::ProtocolViolation);
    CHECK(std::string(short_read.what) == "blk: a read's answer of the wrong length");

    const milk::Error no_blocks = read_from_rogue([](components::blk::ServerServing&& serving, std::uint32_t tag) {
        static_cast<void>(std::move(serving).send(Blk::Done{tag, BlkStatus::ok}));
    });
    CHECK(no_blocks.code == milk::ErrorCode::ProtocolViolation);
    CHECK(std::string(no_blocks.what) == "blk: a read answered ok without its blocks");

    const milk::Error early = read_from_rogue([](components::blk::ServerServing&& serving, std::uint32_t) {
        static_cast<void>(std::move(serving).send(Blk::Completed{}));
    });
    CHECK(early.code == milk::ErrorCode::ProtocolViolation);
    CHECK(std::string(early.what) == "blk: Completed before every request had its answer");
}

TEST_CASE("blk_file: the blocks outlive the channel and the service's process, and are the file's bytes") {
    const TempFile file;
    milk::Settings settings;
    REQUIRE(settings.set("blocks", 64).ok());
    const auto first = pattern(7, 5, 4096, 3);
    const auto second = pattern(40, 2, 4096, 4);
    {
        // Written through a service in a process of its own, then flushed.
        auto host = make_host(Placement::Process, settings, Service{"blk_file", &file});
        auto disk = connect(host, 4);
        const std::array<Request, 3> batch{Request{RequestKind::write, 0, 7, 0, first},
                                           Request{RequestKind::write, 1, 40, 0, second},
                                           Request{RequestKind::flush, 2, 0, 0, {}}};
        const auto answers = run(disk, batch);
        for (const Request& request : batch) CHECK(answers[request.tag].status == BlkStatus::ok);
        CHECK(disk.bye().ok());
    }
    // The file is the device: 64 blocks, each where the device has it.
    const auto bytes = file.bytes();
    REQUIRE(bytes.size() == 64 * 4096);
    CHECK(std::vector<std::byte>(bytes.begin() + 7 * 4096, bytes.begin() + 12 * 4096) == first);
    CHECK(std::vector<std::byte>(bytes.begin() + 40 * 4096, bytes.begin() + 42 * 4096) == second);
    CHECK(std::vector<std::byte>(bytes.begin(), bytes.begin() + 7 * 4096) == std::vector<std::byte>(7 * 4096, std::byte{0}));
    // Another host, another placement, a new channel: the same blocks.
    auto host = make_host(Placement::Inproc, settings, Service{"blk_file", &file});
    auto disk = connect(host, 2);
    const std::array<Request, 2> reads{Request{RequestKind::read, 0, 7, 5, {}}, Request{RequestKind::read, 1, 40, 2, {}}};
    const auto answers = run(disk, reads);
    CHECK(answers[0].data == first);
    CHECK(answers[1].data == second);
    // Two channels at once share the blocks: what one writes, the other reads.
    auto other = connect(host, 2);
    const auto third = pattern(1, 1, 4096, 5);
    const std::array<Request, 1> write{Request{RequestKind::write, 0, 1, 0, third}};
    CHECK(run(other, write)[0].status == BlkStatus::ok);
    const std::array<Request, 1> read{Request{RequestKind::read, 1, 1, 1, {}}};
    CHECK(run(disk, read)[1].data == third);
    CHECK(other.bye().ok());
    CHECK(disk.bye().ok());
}

TEST_CASE("blk_file: a missing, unusable or wrong-kind path is refused") {
    milk::Settings none;
    CHECK(components::blk::FileBlockService::try_create(none).error().code == milk::ErrorCode::InvalidArgument);
    milk::Settings empty;
    REQUIRE(empty.set_text("path", "").ok());
    CHECK(components::blk::FileBlockService::try_create(empty).error().code == milk::ErrorCode::InvalidArgument);
    milk::Settings directory;
    REQUIRE(directory.set_text("path", "/tmp").ok());
    CHECK_FALSE(components::blk::FileBlockService::try_create(directory).ok());
    milk::Settings missing_folder;
    REQUIRE(missing_folder.set_text("path", "/nonexistent-milk-folder/disk.img").ok());
    CHECK(components::blk::FileBlockService::try_create(missing_folder).error().code == milk::ErrorCode::SystemError);
    // A character device is no disk.
    milk::Settings character;
    REQUIRE(character.set_text("path", "/dev/null").ok());
    CHECK(components::blk::FileBlockService::try_create(character).error().code == milk::ErrorCode::InvalidArgument);
    // The path given as an integer is no path (the host refuses it first, H0016).
    milk::Settings integer;
    REQUIRE(integer.set("path", 5).ok());
    CHECK_FALSE(components::blk::FileBlockService::try_create(integer).ok());
}
