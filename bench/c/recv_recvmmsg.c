/* C baseline receiver: blocking recvmmsg(MSG_WAITFORONE), 64 x 2048 B per call.
 * Usage: recv_recvmmsg host max_seconds   (binds host:0, prints {"port":N}, then one JSON result)
 * Counts from the first datagram to the first 3-byte end marker, or 1 s without traffic. */
#include "common.h"
#include <sys/time.h>

#define VLEN 64
#define SLOT 2048

int main(int argc, char** argv) {
  if (argc < 3) { fprintf(stderr, "usage: %s host max_seconds\n", argv[0]); return 2; }
  struct sockaddr_storage ss; socklen_t sl;
  int af = loopback_addr(argv[1], 0, &ss, &sl);
  double max_s = atof(argv[2]);
  if (af < 0) { fprintf(stderr, "loopback only\n"); return 2; }
  int fd = socket(af, SOCK_DGRAM, 0);
  int rcv = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
  if (fd < 0 || bind(fd, (struct sockaddr*)&ss, sl) < 0) { perror("bind"); return 1; }
  getsockname(fd, (struct sockaddr*)&ss, &sl);
  printf("{\"port\":%d}\n", ntohs(((struct sockaddr_in*)&ss)->sin_port));
  fflush(stdout);
  struct timeval tv = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

  static char bufs[VLEN][SLOT];
  struct mmsghdr msgs[VLEN];
  struct iovec iov[VLEN];
  uint64_t count = 0, bytes = 0, calls = 0;
  double t0 = 0, c0 = 0, t1 = 0, c1 = 0, start = now_s();
  int done = 0;
  while (!done && now_s() - start < max_s) {
    for (int i = 0; i < VLEN; i++) {
      iov[i].iov_base = bufs[i]; iov[i].iov_len = SLOT;
      memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
      msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, msgs, VLEN, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (count > 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break; /* 1 s idle */
      if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
      perror("recvmmsg"); return 1;
    }
    calls++;
    for (int i = 0; i < n; i++) {
      if (msgs[i].msg_len == 3) { done = 1; break; }
      if (count == 0) { t0 = now_s(); c0 = cpu_s(); }
      count++; bytes += msgs[i].msg_len;
    }
  }
  t1 = now_s(); c1 = cpu_s();
  double secs = count ? t1 - t0 : 0;
  printf("{\"received\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"cpu_s\":%.6f,\"calls\":%llu}\n",
         (unsigned long long)count, (unsigned long long)bytes, secs, count ? c1 - c0 : 0.0,
         (unsigned long long)calls);
  close(fd);
  return 0;
}
