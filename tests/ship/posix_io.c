/*
 * A program that knows nothing of milk: plain POSIX file I/O on the path
 * it is given (open, pwrite and write at odd offsets and lengths, lseek,
 * fsync, fdatasync, fstat, pread and read back, dup2), then a checksum of
 * what it read. ship_test.sh runs it on a regular file and, under
 * libmilk_ship.so, on a shipped path, and compares the two outputs.
 *
 *   posix_io PATH SIZE
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned char pattern(uint64_t at) { return (unsigned char)((at * 2654435761u) >> 13); }

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	const off_t size = (off_t)strtoll(argv[2], NULL, 10);
	int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (fd < 0) {
		perror("open");
		return 1;
	}
	/* A regular file grows to the device's size first; a shipped one has it. */
	if (ftruncate(fd, size) != 0) {
		perror("ftruncate");
		return 1;
	}
	struct stat status;
	if (fstat(fd, &status) != 0 || status.st_size != size) {
		fprintf(stderr, "fstat: size %lld, not %lld\n", (long long)status.st_size, (long long)size);
		return 1;
	}
	static unsigned char buffer[300000];
	const struct {
		off_t at;
		size_t length;
	} writes[] = {{0, 4096}, {4097, 10000}, {123457, 300000}, {size - 5000, 5000}, {8191, 2}};
	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); ++i) {
		for (size_t b = 0; b < writes[i].length; ++b)
			buffer[b] = pattern((uint64_t)writes[i].at + b + i);
		if (pwrite(fd, buffer, writes[i].length, writes[i].at) != (ssize_t)writes[i].length) {
			perror("pwrite");
			return 1;
		}
	}
	/* write() at the offset lseek() gave, through a duplicate. */
	if (lseek(fd, 777777, SEEK_SET) != 777777 || dup2(fd, 10) != 10) {
		perror("lseek/dup2");
		return 1;
	}
	memset(buffer, 0x42, 6000);
	if (write(10, buffer, 6000) != 6000 || fsync(fd) != 0 || fdatasync(10) != 0) {
		perror("write/fsync");
		return 1;
	}
	if (lseek(fd, 0, SEEK_CUR) != 777777 + 6000) {
		fprintf(stderr, "the duplicate's offset is not shared\n");
		return 1;
	}
	/* Everything back: read() from the start in odd pieces, and pread(). */
	uint64_t hash = 1469598103934665603ull, total = 0;
	if (lseek(fd, 0, SEEK_SET) != 0)
		return 1;
	for (;;) {
		const ssize_t got = read(fd, buffer, 12345);
		if (got < 0) {
			perror("read");
			return 1;
		}
		if (got == 0)
			break;
		for (ssize_t b = 0; b < got; ++b)
			hash = (hash ^ buffer[b]) * 1099511628211ull;
		total += (uint64_t)got;
	}
	if (pread(fd, buffer, 10000, 4097) != 10000) {
		perror("pread");
		return 1;
	}
	for (size_t b = 0; b < 10000; ++b)
		hash = (hash ^ buffer[b]) * 1099511628211ull;
	close(10);
	close(fd);
	printf("read %llu bytes, checksum %016llx\n", (unsigned long long)total, (unsigned long long)hash);
	return 0;
}
