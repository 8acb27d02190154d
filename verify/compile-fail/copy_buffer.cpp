// expect: (use of deleted function|call to deleted constructor).*Buffer
// Copying a buffer: a region of the exchange heap has exactly one owner, so
// that after it was sent nobody on this side can still read or write it.
#include "pingpong.hpp"

void misuse(milk::Buffer& buffer);
void misuse(milk::Buffer& buffer) {
    milk::Buffer copy = buffer;
    static_cast<void>(copy);
}
