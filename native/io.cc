// Writing a whole buffer to a file descriptor that may be non-blocking (Node leaves a pipe on
// stdout non-blocking). Invariant: writeAll returns once every byte is written, waiting in
// poll(2) while the reader is behind (never a timed sleep), or throws the write's error
// (EPIPE when the reader has gone); it reads only the buffer it is given. Both arguments are
// checked before the first write, and no JS runs while it writes, so the bytes stay put.
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "args.h"
#include "errors.h"

namespace hugespan {

// writeAll(fd, bytes: Uint8Array) -> undefined
Napi::Value WriteAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"fd\" argument must be of type number");
  double f = info[0].As<Napi::Number>().DoubleValue();
  if (!(f >= 0 && f <= 2147483647) || f != static_cast<int>(f)) ThrowRangeError(env, "ERR_OUT_OF_RANGE", "The \"fd\" argument must be an integer from 0 to 2^31 - 1");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "The \"bytes\" argument must be a Uint8Array");
  int fd = static_cast<int>(f);
  Napi::Uint8Array a = info[1].As<Napi::Uint8Array>();
  const uint8_t* p = a.Data();
  size_t left = a.ByteLength();
  while (left) {
    ssize_t n = write(fd, p, left);
    if (n >= 0) {
      p += n;
      left -= static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      pollfd pfd{fd, POLLOUT, 0};
      if (poll(&pfd, 1, -1) < 0 && errno != EINTR) ThrowSystemError(env, errno, "poll");
      continue;
    }
    ThrowSystemError(env, errno, "write");
  }
  return env.Undefined();
}

}  // namespace hugespan
