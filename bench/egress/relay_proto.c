/* SPDX-License-Identifier: MIT */
/* bench/egress/relay_proto.c: a prototype, not part of sfaasd. Does a
 * kernel-side relay (sockmap + an sk_skb verdict program loaded through
 * bpf(2), no libbpf) move a CONNECT tunnel faster than splice(2) through
 * pipes, as core/runtime/egress_tunnel.c does? Both are here, as small as
 * they can be (blocking accept, read and connect; a thread per connection
 * from a pool of NTHREADS), so that the comparison is of the byte path
 * alone; bench/egress/relay_bench.py drives them with bench.py's client.
 *
 *   relay_proto splice|sockmap PORT DEST_IP DEST_PORT
 *
 * sockmap: the two sockets of a tunnel go into a SOCKMAP at slots 2i and
 * 2i+1; the verdict program (BPF_SK_SKB_VERDICT, no stream parser) looks
 * the skb's socket cookie up in a hash {cookie: {peer slot, bytes}}, adds
 * skb->len to the bytes (the per-connection accounting the proxy needs)
 * and redirects the skb to the peer's egress (bpf_sk_redirect_map). The
 * end is each side's FIN passed on with shutdown(); bytes still queued
 * for the peer's psock worker are not waited for (the bench has none at
 * that moment; a product would have to). RELAY_COUNTS=1 prints the counts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define I(c, d, s, o, i) ((struct bpf_insn) { .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })
static int sys_bpf(int cmd, union bpf_attr *a) { return (int) syscall(__NR_bpf, cmd, a, sizeof *a); }

static int map_new(int type, int ks, int vs, int n)
{
        union bpf_attr a = { 0 };
        a.map_type = type; a.key_size = ks; a.value_size = vs; a.max_entries = n;
        return sys_bpf(BPF_MAP_CREATE, &a);
}

static int map_set(int fd, const void *k, const void *v)
{
        union bpf_attr a = { 0 };
        a.map_fd = fd; a.key = (uint64_t) (uintptr_t) k; a.value = (uint64_t) (uintptr_t) v; a.flags = BPF_ANY;
        return sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

static int map_get(int fd, const void *k, void *v)
{
        union bpf_attr a = { 0 };
        a.map_fd = fd; a.key = (uint64_t) (uintptr_t) k; a.value = (uint64_t) (uintptr_t) v;
        return sys_bpf(BPF_MAP_LOOKUP_ELEM, &a);
}

static int map_del(int fd, const void *k)
{
        union bpf_attr a = { 0 };
        a.map_fd = fd; a.key = (uint64_t) (uintptr_t) k;
        return sys_bpf(BPF_MAP_DELETE_ELEM, &a);
}

static int sockmap, counts;
#define NTHREADS 4

static int prog_load(void)
{
        struct bpf_insn p[] = {
                I(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0),
                I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_socket_cookie),
                I(BPF_STX | BPF_DW | BPF_MEM, 10, 0, -8, 0),
                I(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, counts), I(0, 0, 0, 0, 0),
                I(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0),
                I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -8),
                I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
                I(BPF_JMP | BPF_JNE | BPF_K, 0, 0, 2, 0),
                I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 1),
                I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
                I(BPF_ALU64 | BPF_MOV | BPF_X, 7, 0, 0, 0),
                I(BPF_LDX | BPF_W | BPF_MEM, 1, 6, offsetof(struct __sk_buff, len), 0),
                I(BPF_STX | BPF_DW | BPF_ATOMIC, 7, 1, 8, BPF_ADD),
                I(BPF_LDX | BPF_W | BPF_MEM, 3, 7, 0, 0),
                I(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0),
                I(BPF_LD | BPF_DW | BPF_IMM, 2, BPF_PSEUDO_MAP_FD, 0, sockmap), I(0, 0, 0, 0, 0),
                I(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0),
                I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_sk_redirect_map),
                I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
        };
        static char log[65536];
        union bpf_attr a = { 0 };
        int fd;

        a.prog_type = BPF_PROG_TYPE_SK_SKB;
        a.insns = (uint64_t) (uintptr_t) p;
        a.insn_cnt = sizeof p / sizeof p[0];
        a.license = (uint64_t) (uintptr_t) "GPL";
        a.log_buf = (uint64_t) (uintptr_t) log; a.log_size = sizeof log; a.log_level = 1;
        fd = sys_bpf(BPF_PROG_LOAD, &a);
        if (fd < 0) {
                fprintf(stderr, "prog load: %s\n%s\n", strerror(errno), log);
                exit(1);
        }
        memset(&a, 0, sizeof a);
        a.target_fd = sockmap; a.attach_bpf_fd = fd; a.attach_type = BPF_SK_SKB_VERDICT;
        if (sys_bpf(BPF_PROG_ATTACH, &a) < 0) {
                perror("attach");
                exit(1);
        }
        return fd;
}

static void splice_relay(int a, int b)
{
        int fd[2] = { a, b }, pp[2][2];
        size_t held[2] = { 0, 0 };
        int eof[2] = { 0, 0 }, shut[2] = { 0, 0 };

        for (int d = 0; d < 2; d++) {
                if (pipe2(pp[d], O_CLOEXEC | O_NONBLOCK) < 0) { perror("pipe"); exit(1); }
                fcntl(pp[d][1], F_SETPIPE_SZ, 1 << 20);
        }
        fcntl(a, F_SETFL, O_NONBLOCK);
        fcntl(b, F_SETFL, O_NONBLOCK);
        while (!(shut[0] && shut[1])) {
                struct pollfd pf[2];
                for (int s = 0; s < 2; s++) {
                        pf[s].fd = fd[s];
                        pf[s].events = (!eof[s] && held[s] < (1 << 20) ? POLLIN : 0) | (held[1 - s] ? POLLOUT : 0);
                }
                if (poll(pf, 2, -1) < 0) continue;
                for (int d = 0; d < 2; d++) {
                        int src = fd[d], dst = fd[1 - d];
                        for (;;) {
                                int prog = 0;
                                if (!eof[d] && held[d] < (1 << 20)) {
                                        ssize_t n = splice(src, NULL, pp[d][1], NULL, (1 << 20) - held[d], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                                        if (n > 0) { held[d] += n; prog = 1; }
                                        else if (n == 0) eof[d] = 1;
                                        else if (errno != EAGAIN) { eof[d] = 1; }
                                }
                                if (held[d]) {
                                        ssize_t n = splice(pp[d][0], NULL, dst, NULL, held[d], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                                        if (n > 0) { held[d] -= n; prog = 1; }
                                        else if (n < 0 && errno != EAGAIN) { held[d] = 0; eof[d] = 1; }
                                }
                                if (!prog) break;
                        }
                        if (eof[d] && !held[d] && !shut[d]) { shutdown(dst, SHUT_WR); shut[d] = 1; }
                }
        }
        for (int d = 0; d < 2; d++) { close(pp[d][0]); close(pp[d][1]); }
}


#include <pthread.h>
static int listen_fd, is_sockmap;
static struct sockaddr_in dest_addr;
static uint64_t cookie_of(int fd) { uint64_t c = 0; socklen_t l = sizeof c; getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &l); return c; }
struct pv { uint32_t peer, pad; uint64_t bytes; };
static void *worker(void *arg)
{
        uint32_t slot = (uint32_t) (uintptr_t) arg, ka = 2 * slot, kb = 2 * slot + 1;
        int one = 1;
        for (;;) {
                char head[4096];
                size_t got = 0;
                int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC), u;
                if (c < 0) continue;
                while (got < sizeof head - 1) {
                        ssize_t n = read(c, head + got, sizeof head - 1 - got);
                        if (n <= 0) break;
                        got += n;
                        head[got] = 0;
                        if (strstr(head, "\r\n\r\n")) break;
                }
                u = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                if (connect(u, (void *) &dest_addr, sizeof dest_addr) < 0) { close(u); close(c); continue; }
                static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
                if (is_sockmap) {
                        uint64_t cc = cookie_of(c), cu = cookie_of(u);
                        struct pv va = { kb, 0, 0 }, vb = { ka, 0, 0 };
                        if (map_set(counts, &cc, &va) < 0 || map_set(counts, &cu, &vb) < 0) { perror("counts"); exit(1); }
                        if (map_set(sockmap, &ka, &c) < 0 || map_set(sockmap, &kb, &u) < 0) { perror("sockmap add"); exit(1); }
                        (void) write(c, ok, sizeof ok - 1);
                        struct pollfd pf[2] = { { c, POLLRDHUP, 0 }, { u, POLLRDHUP, 0 } };
                        int done[2] = { 0, 0 };
                        while (!(done[0] && done[1])) {
                                if (poll(pf, 2, -1) < 0) continue;
                                for (int s = 0; s < 2; s++)
                                        if (!done[s] && (pf[s].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
                                                shutdown(s ? c : u, SHUT_WR);
                                                done[s] = 1;
                                                pf[s].fd = -1;
                                        }
                        }
                        map_del(sockmap, &ka);
                        map_del(sockmap, &kb);
                        if (getenv("RELAY_COUNTS")) { map_get(counts, &cc, &va); map_get(counts, &cu, &vb); fprintf(stderr, "up=%llu down=%llu\n", (unsigned long long) va.bytes, (unsigned long long) vb.bytes); }
                        map_del(counts, &cc);
                        map_del(counts, &cu);
                } else {
                        (void) write(c, ok, sizeof ok - 1);
                        splice_relay(c, u);
                }
                close(c);
                close(u);
        }
        return NULL;
}

int main(int argc, char **argv)
{
        const char *mode;
        int port, one = 1;
        struct sockaddr_in la = { .sin_family = AF_INET };
        pthread_t t;

        if (argc != 5) {
                fprintf(stderr, "usage: relay_proto splice|sockmap PORT DEST_IP DEST_PORT\n");
                return 2;
        }
        mode = argv[1];
        port = (int) strtol(argv[2], NULL, 10);
        la.sin_port = htons(port);
        dest_addr = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons((int) strtol(argv[4], NULL, 10)) };
        inet_pton(AF_INET, "127.0.0.1", &la.sin_addr);
        inet_pton(AF_INET, argv[3], &dest_addr.sin_addr);
        is_sockmap = strcmp(mode, "sockmap") == 0;
        if (is_sockmap) {
                sockmap = map_new(BPF_MAP_TYPE_SOCKMAP, 4, 4, 2 * NTHREADS);
                counts = map_new(BPF_MAP_TYPE_HASH, 8, 16, 64);
                if (sockmap < 0 || counts < 0) { perror("map"); return 1; }
                prog_load();
        }
        listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(listen_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (bind(listen_fd, (void *) &la, sizeof la) < 0 || listen(listen_fd, 128) < 0) { perror("listen"); return 1; }
        for (int i = 0; i < NTHREADS; i++)
                pthread_create(&t, NULL, worker, (void *) (uintptr_t) i);
        printf("ready\n");
        fflush(stdout);
        for (;;)
                pause();
}
