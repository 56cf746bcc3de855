/* C baseline relay: blocking recvmmsg(MSG_WAITFORONE), 64 x 2048 B per call, then sendmmsg of the
 * same datagrams (same buffers, same lengths) to each output in turn, one connected socket each.
 * Usage: relay_mmsg host max_seconds out_port [out_port ...]   (up to 16 outputs, all on host)
 * Binds host:0, prints {"port":N}, then one JSON result like recv_recvmmsg's: counts from the first
 * datagram to the first 3-byte end marker (forwarded too, so the sinks end), or 1 s without
 * traffic. After the measured window it sends 20 more end markers to every output, 10 ms apart. */
#include "common.h"
#include <sys/time.h>

#define VLEN 64
#define SLOT 2048
#define MAX_OUT 16

/* Sends msgs[0..n) on fd, resuming after a partial sendmmsg; returns the datagrams not sent. */
static int send_all(int fd, struct mmsghdr* msgs, int n, uint64_t* calls) {
  int off = 0;
  while (off < n) {
    int r = sendmmsg(fd, msgs + off, (unsigned)(n - off), 0);
    (*calls)++;
    if (r < 0) {
      if (errno == EINTR) continue;
      /* ECONNREFUSED: the sink went away (ICMP); ENOBUFS: dropped on the way. Count and go on. */
      if (errno == ECONNREFUSED || errno == ENOBUFS) return n - off;
      perror("sendmmsg");
      exit(1);
    }
    off += r;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 4) { fprintf(stderr, "usage: %s host max_seconds out_port...\n", argv[0]); return 2; }
  struct sockaddr_storage ss; socklen_t sl;
  int af = loopback_addr(argv[1], 0, &ss, &sl);
  double max_s = atof(argv[2]);
  int nout = argc - 3;
  if (af < 0) { fprintf(stderr, "loopback only\n"); return 2; }
  if (nout > MAX_OUT) { fprintf(stderr, "at most %d outputs\n", MAX_OUT); return 2; }
  int outs[MAX_OUT];
  for (int o = 0; o < nout; o++) {
    struct sockaddr_storage os; socklen_t ol;
    if (loopback_addr(argv[1], atoi(argv[3 + o]), &os, &ol) < 0) { fprintf(stderr, "bad port\n"); return 2; }
    outs[o] = socket(af, SOCK_DGRAM, 0);
    if (outs[o] < 0 || connect(outs[o], (struct sockaddr*)&os, ol) < 0) { perror("connect"); return 1; }
  }
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
  struct mmsghdr msgs[VLEN], out[VLEN];
  struct iovec iov[VLEN], oiov[VLEN];
  uint64_t count = 0, bytes = 0, calls = 0, send_calls = 0, unsent = 0;
  double t0 = 0, c0 = 0, t1 = 0, c1 = 0, start = now_s();
  int done = 0;
  memset(out, 0, sizeof(out));
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
    /* The datagrams to forward: everything up to and including the first end marker. */
    int m = 0;
    for (int i = 0; i < n; i++) {
      unsigned len = msgs[i].msg_len;
      oiov[m].iov_base = bufs[i]; oiov[m].iov_len = len;
      out[m].msg_hdr.msg_iov = &oiov[m]; out[m].msg_hdr.msg_iovlen = 1;
      m++;
      if (len == 3) { done = 1; break; }
      if (count == 0) { t0 = now_s(); c0 = cpu_s(); }
      count++; bytes += len;
    }
    for (int o = 0; o < nout; o++) unsent += (uint64_t)send_all(outs[o], out, m, &send_calls);
  }
  t1 = now_s(); c1 = cpu_s();
  double secs = count ? t1 - t0 : 0;
  printf("{\"received\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"cpu_s\":%.6f,\"calls\":%llu,"
         "\"outputs\":%d,\"send_calls\":%llu,\"unsent\":%llu}\n",
         (unsigned long long)count, (unsigned long long)bytes, secs, count ? c1 - c0 : 0.0,
         (unsigned long long)calls, nout, (unsigned long long)send_calls,
         (unsigned long long)unsent);
  fflush(stdout);
  /* Unmeasured: more end markers, so every sink ends even if it missed the forwarded one. */
  for (int i = 0; i < 20; i++) {
    for (int o = 0; o < nout; o++)
      if (send(outs[o], "END", 3, 0) < 0 && errno != ECONNREFUSED) break;
    usleep(10000);
  }
  for (int o = 0; o < nout; o++) close(outs[o]);
  close(fd);
  return 0;
}
