// The user side of milk.ko's messaging lab; see lab_client.hpp.
#include "lab_client.hpp"

#include "vm_check.hpp"

#include <dirent.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cstdio>
#include <cstring>

namespace milk::vm::lab {

Message request(std::uint64_t seq) {
    Message message{};
    message.words[0] = seq;
    for (std::size_t i = 1; i < sizeof(message.words) / sizeof(message.words[0]); ++i)
        message.words[i] = seq * 0x9e3779b97f4a7c15ULL + i;
    return message;
}

bool is_answer(const Message& sent, const Message& reply) {
    if (reply.words[0] != sent.words[0] + 1) return false;
    return std::memcmp(&sent.words[1], &reply.words[1], sizeof(sent) - sizeof(sent.words[0])) == 0;
}

Device::Device() : m_fd(::open("/dev/" MILK_LAB_DEVICE_NAME, O_RDWR | O_CLOEXEC)) { MILK_VM_CHECK(m_fd >= 0); }

Device::~Device() { ::close(m_fd); }

bool ioctl_round_trip(const Device& device, std::uint64_t seq) {
    const Message sent = request(seq);
    Message message = sent;
    return ::ioctl(device.fd(), MILK_LAB_IOC_ECHO, &message) == 0 && is_answer(sent, message);
}

bool read_write_round_trip(const Device& device, std::uint64_t seq) {
    const Message sent = request(seq);
    Message reply{};
    return ::write(device.fd(), &sent, sizeof(sent)) == sizeof(sent) &&
           ::read(device.fd(), &reply, sizeof(reply)) == sizeof(reply) && is_answer(sent, reply);
}

Uring::Uring(const Device& device, Polling polling) : m_fd(device.fd()), m_polling(polling) {
    io_uring_params params{};
    if (polling == Polling::SqPoll) {
        params.flags = IORING_SETUP_SQPOLL;
        params.sq_thread_idle = 1000;  // ms: the kernel thread polls between the rows' batches
    }
    MILK_VM_CHECK(io_uring_queue_init_params(64, &m_ring, &params) == 0);
}

namespace {

// Whether a thread of this process is named iou-sqp-* (io_uring's SQPOLL
// thread).
bool sqpoll_thread_alive() {
    DIR* tasks = ::opendir("/proc/self/task");
    if (tasks == nullptr) return false;
    bool alive = false;
    while (const dirent* task = ::readdir(tasks)) {
        if (task->d_name[0] == '.') continue;
        char path[320];
        std::snprintf(path, sizeof(path), "/proc/self/task/%s/comm", task->d_name);
        char name[32] = {};
        const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        const ssize_t length = ::read(fd, name, sizeof(name) - 1);
        ::close(fd);
        if (length > 0 && std::strncmp(name, "iou-sqp", 7) == 0) alive = true;
    }
    ::closedir(tasks);
    return alive;
}

}  // namespace

Uring::~Uring() {
    io_uring_queue_exit(&m_ring);
    // The SQPOLL thread goes away asynchronously after the ring closes, and
    // until it does it may still poll (for up to sq_thread_idle): a test or
    // a row that runs next, timing threads on these CPUs, would share a CPU
    // with it. Wait until it is gone (bounded: a kernel that keeps it is
    // not this program's to fix).
    if (m_polling == Polling::SqPoll) {
        for (int tries = 0; tries < 500 && sqpoll_thread_alive(); ++tries) ::usleep(10'000);
    }
}

bool Uring::submit(std::uint32_t count) {
    const int submitted = io_uring_submit(&m_ring);
    // With SQPOLL, liburing counts what the kernel's thread has not yet
    // consumed, which may include earlier batches or leave out part of
    // this one: only an error means something. The completions say the rest.
    if (m_polling == Polling::SqPoll) return submitted >= 0;
    return submitted == static_cast<int>(count);
}

bool Uring::reap(std::uint32_t count, int expected_result) {
    for (std::uint32_t i = 0; i < count; ++i) {
        io_uring_cqe* cqe = nullptr;
        if (io_uring_wait_cqe(&m_ring, &cqe) != 0) return false;
        const int result = cqe->res;
        io_uring_cqe_seen(&m_ring, cqe);
        if (result != expected_result) {
            std::fprintf(stderr, "io_uring: a completion with %d, expected %d\n", result, expected_result);
            return false;
        }
    }
    return true;
}

bool Uring::nops(std::uint32_t count) {
    for (std::uint32_t i = 0; i < count; ++i) {
        io_uring_sqe* sqe = io_uring_get_sqe(&m_ring);
        if (sqe == nullptr) return false;
        io_uring_prep_nop(sqe);
    }
    if (!submit(count)) return false;
    return reap(count, 0);
}

bool Uring::echoes(std::uint64_t first_seq, std::uint32_t count) {
    if (count > MILK_LAB_BATCH_MAX) return false;
    for (std::uint32_t i = 0; i < count; ++i) {
        m_messages[i] = request(first_seq + i);
        io_uring_sqe* sqe = io_uring_get_sqe(&m_ring);
        if (sqe == nullptr) return false;
        // liburing 2.3 has no helper for URING_CMD: the fields by hand. The
        // command area (sqe->cmd, 16 bytes in a 64-byte SQE) holds the
        // message's address.
        std::memset(sqe, 0, sizeof(*sqe));
        sqe->opcode = IORING_OP_URING_CMD;
        sqe->fd = m_fd;
        sqe->cmd_op = MILK_LAB_URING_ECHO;
        const std::uint64_t address = reinterpret_cast<std::uintptr_t>(&m_messages[i]);
        std::memcpy(sqe->cmd, &address, sizeof(address));
    }
    if (!submit(count)) return false;
    if (!reap(count, MILK_LAB_MESSAGE_BYTES)) return false;
    for (std::uint32_t i = 0; i < count; ++i) {
        if (!is_answer(request(first_seq + i), m_messages[i])) {
            std::fprintf(stderr, "io_uring: echo %u answered %llu for %llu\n", i,
                         static_cast<unsigned long long>(m_messages[i].words[0]),
                         static_cast<unsigned long long>(first_seq + i));
            return false;
        }
    }
    return true;
}

EventfdChannel::EventfdChannel(const Device& device) : m_fd(device.fd()) {
    m_eventfd = ::eventfd(0, EFD_CLOEXEC);
    MILK_VM_CHECK(m_eventfd >= 0);
    MILK_VM_CHECK(::ioctl(m_fd, MILK_LAB_IOC_EVENTFD, m_eventfd) == 0);
    void* shared = ::mmap(nullptr, MILK_LAB_SHARED_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, m_fd, 0);
    MILK_VM_CHECK(shared != MAP_FAILED);
    m_shared = static_cast<milk_lab_shared*>(shared);
}

EventfdChannel::~EventfdChannel() {
    ::munmap(m_shared, MILK_LAB_SHARED_BYTES);
    ::close(m_eventfd);
}

bool EventfdChannel::round_trips(std::uint64_t first_seq, std::uint32_t count) {
    if (count > MILK_LAB_BATCH_MAX) return false;
    for (std::uint32_t i = 0; i < count; ++i) m_shared->request[i] = request(first_seq + i);
    m_shared->answered = 0;
    m_shared->requests = count;
    if (::ioctl(m_fd, MILK_LAB_IOC_KICK, 0) != 0) return false;
    std::uint64_t signals = 0;
    if (::read(m_eventfd, &signals, sizeof(signals)) != sizeof(signals) || signals != 1) return false;
    // The kernel wrote the count (release) after the replies; the eventfd
    // read is a system call, which orders this side's loads after it.
    if (std::atomic_ref<std::uint32_t>(m_shared->answered).load(std::memory_order_acquire) != count) return false;
    for (std::uint32_t i = 0; i < count; ++i)
        if (!is_answer(request(first_seq + i), m_shared->reply[i])) return false;
    return true;
}

namespace {

// One generic netlink request or reply with one attribute; big enough for
// the family lookup's reply, which carries the family's ops and groups.
struct NetlinkBuffer {
    alignas(NLMSG_ALIGNTO) unsigned char bytes[4096];
};

// Appends attribute `type` with `length` bytes of `data` at `*used`.
void put_attribute(unsigned char* buffer, std::size_t& used, std::uint16_t type, const void* data,
                   std::size_t length) {
    auto* attribute = reinterpret_cast<nlattr*>(buffer + used);
    attribute->nla_type = type;
    attribute->nla_len = static_cast<std::uint16_t>(NLA_HDRLEN + length);
    std::memcpy(buffer + used + NLA_HDRLEN, data, length);
    used += NLA_ALIGN(attribute->nla_len);
}

// Sends a request of `command` to `family` with one attribute; returns the
// reply's length, or -1.
ssize_t exchange(int socket, std::uint16_t family, std::uint8_t command, std::uint8_t version, std::uint32_t sequence,
                 std::uint16_t attribute_type, const void* data, std::size_t length, NetlinkBuffer& reply) {
    NetlinkBuffer out{};
    std::size_t used = NLMSG_HDRLEN + GENL_HDRLEN;
    put_attribute(out.bytes, used, attribute_type, data, length);
    auto* header = reinterpret_cast<nlmsghdr*>(out.bytes);
    header->nlmsg_len = static_cast<std::uint32_t>(used);
    header->nlmsg_type = family;
    header->nlmsg_flags = NLM_F_REQUEST;
    header->nlmsg_seq = sequence;
    auto* generic = reinterpret_cast<genlmsghdr*>(out.bytes + NLMSG_HDRLEN);
    generic->cmd = command;
    generic->version = version;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(socket, out.bytes, used, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) !=
        static_cast<ssize_t>(used))
        return -1;
    return ::recv(socket, reply.bytes, sizeof(reply.bytes), 0);
}

// The first attribute of `type` in a generic netlink reply, or null.
const nlattr* find_attribute(const NetlinkBuffer& reply, ssize_t length, std::uint16_t type) {
    const auto* header = reinterpret_cast<const nlmsghdr*>(reply.bytes);
    if (length < static_cast<ssize_t>(NLMSG_HDRLEN + GENL_HDRLEN) || header->nlmsg_type == NLMSG_ERROR ||
        header->nlmsg_len > static_cast<std::uint32_t>(length))
        return nullptr;
    std::size_t offset = NLMSG_HDRLEN + GENL_HDRLEN;
    while (offset + NLA_HDRLEN <= header->nlmsg_len) {
        const auto* attribute = reinterpret_cast<const nlattr*>(reply.bytes + offset);
        if (attribute->nla_len < NLA_HDRLEN || offset + attribute->nla_len > header->nlmsg_len) return nullptr;
        if ((attribute->nla_type & NLA_TYPE_MASK) == type) return attribute;
        offset += NLA_ALIGN(attribute->nla_len);
    }
    return nullptr;
}

}  // namespace

Netlink::Netlink() {
    m_socket = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
    MILK_VM_CHECK(m_socket >= 0);
    NetlinkBuffer reply{};
    const ssize_t length = exchange(m_socket, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, m_sequence++,
                                    CTRL_ATTR_FAMILY_NAME, MILK_LAB_GENL_NAME, sizeof(MILK_LAB_GENL_NAME), reply);
    const nlattr* id = find_attribute(reply, length, CTRL_ATTR_FAMILY_ID);
    MILK_VM_CHECK(id != nullptr && id->nla_len == NLA_HDRLEN + sizeof(std::uint16_t));
    std::memcpy(&m_family, reinterpret_cast<const unsigned char*>(id) + NLA_HDRLEN, sizeof(m_family));
}

Netlink::~Netlink() { ::close(m_socket); }

bool Netlink::round_trip(std::uint64_t seq) {
    const Message sent = request(seq);
    NetlinkBuffer reply{};
    const ssize_t length = exchange(m_socket, m_family, MILK_LAB_CMD_ECHO, MILK_LAB_GENL_VERSION, m_sequence++,
                                    MILK_LAB_ATTR_MESSAGE, &sent, sizeof(sent), reply);
    const nlattr* answer = find_attribute(reply, length, MILK_LAB_ATTR_MESSAGE);
    if (answer == nullptr || answer->nla_len != NLA_HDRLEN + sizeof(Message)) return false;
    Message received{};
    std::memcpy(&received, reinterpret_cast<const unsigned char*>(answer) + NLA_HDRLEN, sizeof(received));
    return is_answer(sent, received);
}

FaultChannel::FaultChannel() {
    // Non-blocking: the handler reads only after poll said so, and a read
    // that finds nothing must not block it past its stop signal.
    m_uffd = static_cast<int>(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    MILK_VM_CHECK(m_uffd >= 0);
    uffdio_api api{};
    api.api = UFFD_API;
    MILK_VM_CHECK(::ioctl(m_uffd, UFFDIO_API, &api) == 0);
    m_page_bytes = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    void* page = ::mmap(nullptr, m_page_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    MILK_VM_CHECK(page != MAP_FAILED);
    m_page = static_cast<std::byte*>(page);
    uffdio_register registration{};
    registration.range.start = reinterpret_cast<std::uintptr_t>(m_page);
    registration.range.len = m_page_bytes;
    registration.mode = UFFDIO_REGISTER_MODE_MISSING;
    MILK_VM_CHECK(::ioctl(m_uffd, UFFDIO_REGISTER, &registration) == 0);
    m_stop = ::eventfd(0, EFD_CLOEXEC);
    MILK_VM_CHECK(m_stop >= 0);
    m_handler = std::thread([this] { handle(); });
}

FaultChannel::~FaultChannel() {
    const std::uint64_t one = 1;
    MILK_VM_CHECK(::write(m_stop, &one, sizeof(one)) == sizeof(one));
    m_handler.join();
    ::munmap(m_page, m_page_bytes);
    ::close(m_stop);
    ::close(m_uffd);
}

void FaultChannel::handle() {
    std::byte* source = static_cast<std::byte*>(::aligned_alloc(m_page_bytes, m_page_bytes));
    MILK_VM_CHECK(source != nullptr);
    for (;;) {
        pollfd watched[2] = {{m_uffd, POLLIN, 0}, {m_stop, POLLIN, 0}};
        if (::poll(watched, 2, -1) < 0) continue;
        if (watched[1].revents != 0) break;
        uffd_msg message{};
        if (::read(m_uffd, &message, sizeof(message)) != sizeof(message)) continue;
        if (message.event != UFFD_EVENT_PAGEFAULT) continue;
        const std::uint64_t value = m_next_value.load(std::memory_order_acquire);
        std::memcpy(source, &value, sizeof(value));
        uffdio_copy copy{};
        copy.dst = message.arg.pagefault.address & ~(static_cast<std::uint64_t>(m_page_bytes) - 1);
        copy.src = reinterpret_cast<std::uintptr_t>(source);
        copy.len = m_page_bytes;
        MILK_VM_CHECK(::ioctl(m_uffd, UFFDIO_COPY, &copy) == 0);
    }
    std::free(source);
}

bool FaultChannel::round_trip(std::uint64_t seq) {
    m_next_value.store(seq, std::memory_order_release);
    // The read faults (the page is missing), the handler copies a page
    // holding seq, and the read completes with it.
    const std::uint64_t seen = *reinterpret_cast<volatile const std::uint64_t*>(m_page);
    // Dropped again, so that the next round trip faults too.
    return ::madvise(m_page, m_page_bytes, MADV_DONTNEED) == 0 && seen == seq;
}

}  // namespace milk::vm::lab
