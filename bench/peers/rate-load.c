/*
 * An open-loop HTTP/1.1 load generator in C, for latency at a fixed rate with as little noise of
 * its own as possible: the same schedule and report as bench/rate-load.ts (requests leave evenly
 * spaced, `rate` per second, whether or not earlier answers came back, over keep-alive
 * connections, a new one whenever all are busy; each latency is timed from the write of its
 * request to the end of its response), but in one thread with epoll and a timerfd, so no garbage
 * collector or event-loop turn of the generator's own lands in the figures. bench/bandits.ts
 * builds it with the machine's C compiler (`cc -O2`) and falls back to the TypeScript one.
 *
 *   cc -O2 -o /tmp/rate-load bench/peers/rate-load.c
 *   /tmp/rate-load HOST PORT PATH BODIES.jsonl RATE SECONDS WARMUP_SECONDS [HEADER]
 *
 * BODIES: JSON lines POSTed in turn ("-": GET PATH). HEADER: one more header line sent with every
 * request, e.g. "Authorization: Bearer …" (bench/auth.ts). Last line of output: JSON
 * {rate, requests, achievedRate, latencyMs: {p50, p90, p99, p999, max}, lateMs: {p99, max}, non2xx, errors}.
 * Responses must carry Content-Length (fastify's JSON answers do).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNECTIONS 256
#define RECV_BUFFER 65536

typedef struct {
  int fd;
  int busy;
  int record;
  double t0;
  size_t have;
  char buf[RECV_BUFFER];
} connection;

static connection conns[MAX_CONNECTIONS];
static int nconns = 0;
static int epfd;
static struct sockaddr_in target;
static char **requests;
static size_t *request_lengths;
static size_t nrequests;
static double *latencies;
static size_t nlatencies = 0;
static double *lateness;
static size_t nlateness = 0;
static long non2xx = 0, errors = 0;
static int in_flight = 0;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void fail(const char *what) {
  perror(what);
  exit(1);
}

static int open_connection(void) {
  if (nconns == MAX_CONNECTIONS) return -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("socket");
  if (connect(fd, (struct sockaddr *)&target, sizeof target) != 0) fail("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  connection *c = &conns[nconns];
  memset(c, 0, sizeof *c - RECV_BUFFER);
  c->fd = fd;
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)nconns};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) fail("epoll_ctl");
  return nconns++;
}

static void send_request(size_t k, int record) {
  int idle = -1;
  for (int i = 0; i < nconns; i++) {
    if (!conns[i].busy && conns[i].fd >= 0) {
      idle = i;
      break;
    }
  }
  if (idle < 0) idle = open_connection();
  if (idle < 0) {
    errors++;
    return;
  }
  connection *c = &conns[idle];
  const char *data = requests[k % nrequests];
  size_t left = request_lengths[k % nrequests];
  c->busy = 1;
  c->record = record;
  c->have = 0;
  c->t0 = now_ms();
  while (left > 0) {
    ssize_t n = write(c->fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      errors++;
      c->busy = 0;
      return;
    }
    data += n;
    left -= (size_t)n;
  }
  in_flight++;
}

/* Reads what arrived on connection i; settles its request when the whole response is in. */
static void on_readable(int i) {
  connection *c = &conns[i];
  ssize_t n = read(c->fd, c->buf + c->have, RECV_BUFFER - 1 - c->have);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) return;
    if (c->busy) {
      errors++;
      in_flight--;
    }
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->busy = 1; /* never reused */
    return;
  }
  c->have += (size_t)n;
  c->buf[c->have] = '\0';
  char *end = strstr(c->buf, "\r\n\r\n");
  if (end == NULL) return;
  long length = -1;
  for (char *line = strstr(c->buf, "\r\n"); line != NULL && line < end; line = strstr(line + 2, "\r\n")) {
    if (strncasecmp(line + 2, "content-length:", 15) == 0) length = strtol(line + 17, NULL, 10);
  }
  if (length < 0) {
    fprintf(stderr, "rate-load: a response without Content-Length\n");
    exit(1);
  }
  size_t total = (size_t)(end + 4 - c->buf) + (size_t)length;
  if (c->have < total) return;
  double latency = now_ms() - c->t0;
  int status = atoi(c->buf + 9);
  if (c->record) {
    latencies[nlatencies++] = latency;
    if (status < 200 || status >= 300) non2xx++;
  }
  c->busy = 0;
  c->have = 0;
  in_flight--;
}

static void wait_events(int timeout_ms, int timer_fd) {
  struct epoll_event events[64];
  int n = epoll_wait(epfd, events, 64, timeout_ms);
  for (int e = 0; e < n; e++) {
    if (events[e].data.u32 == UINT32_MAX) {
      uint64_t expirations;
      if (read(timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN) fail("timerfd read");
    } else {
      on_readable((int)events[e].data.u32);
    }
  }
}

/* Sends `count` requests on schedule from now; returns the seconds the schedule took. */
static double phase(size_t count, double rate, int record, int timer_fd) {
  double interval = 1000.0 / rate;
  double start = now_ms();
  size_t next = 0;
  while (next < count) {
    double now = now_ms();
    while (next < count && start + next * interval <= now) {
      if (record) lateness[nlateness++] = now - (start + next * interval);
      send_request(next, record);
      next++;
    }
    if (next >= count) break;
    double due = start + next * interval;
    struct itimerspec at = {0};
    at.it_value.tv_sec = (time_t)(due / 1e3);
    at.it_value.tv_nsec = (long)((due - at.it_value.tv_sec * 1e3) * 1e6);
    if (timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &at, NULL) != 0) fail("timerfd_settime");
    wait_events(-1, timer_fd);
  }
  double elapsed = (now_ms() - start) / 1e3;
  double give_up = now_ms() + 10000;
  while (in_flight > 0 && now_ms() < give_up) wait_events(5, timer_fd);
  return elapsed;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double quantile(double *xs, size_t n, double q) {
  if (n == 0) return 0;
  size_t k = (size_t)(q * n);
  if (k >= n) k = n - 1;
  return (double)(long)(xs[k] * 100 + 0.5) / 100;
}

/* Reads the bodies file into ready-made requests. */
static void build_requests(const char *host, const char *path, const char *bodies, const char *extra) {
  if (strcmp(bodies, "-") == 0) {
    nrequests = 1;
    requests = malloc(sizeof(char *));
    request_lengths = malloc(sizeof(size_t));
    requests[0] = NULL;
    int n = asprintf(&requests[0], "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", path, host, extra);
    if (n < 0) fail("asprintf");
    request_lengths[0] = (size_t)n;
    return;
  }
  FILE *f = fopen(bodies, "r");
  if (f == NULL) fail(bodies);
  size_t capacity = 1024;
  requests = malloc(capacity * sizeof(char *));
  request_lengths = malloc(capacity * sizeof(size_t));
  char *line = NULL;
  size_t line_capacity = 0;
  ssize_t len;
  while ((len = getline(&line, &line_capacity, f)) >= 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (len == 0) continue;
    if (nrequests == capacity) {
      capacity *= 2;
      requests = realloc(requests, capacity * sizeof(char *));
      request_lengths = realloc(request_lengths, capacity * sizeof(size_t));
    }
    int n = asprintf(&requests[nrequests], "POST %s HTTP/1.1\r\nHost: %s\r\n%sContent-Type: application/json\r\nContent-Length: %zd\r\n\r\n%s", path, host, extra, len, line);
    if (n < 0) fail("asprintf");
    request_lengths[nrequests++] = (size_t)n;
  }
  free(line);
  fclose(f);
  if (nrequests == 0) {
    fprintf(stderr, "rate-load: %s has no bodies\n", bodies);
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc != 8 && argc != 9) {
    fprintf(stderr, "usage: %s HOST PORT PATH BODIES|- RATE SECONDS WARMUP_SECONDS [HEADER]\n", argv[0]);
    return 2;
  }
  const char *host = argv[1];
  double rate = atof(argv[5]), seconds = atof(argv[6]), warmup = atof(argv[7]);
  if (!(rate > 0) || !(seconds > 0) || warmup < 0) {
    fprintf(stderr, "rate-load: RATE and SECONDS must be > 0, WARMUP_SECONDS >= 0\n");
    return 2;
  }
  struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *found;
  if (getaddrinfo(host, argv[2], &hints, &found) != 0) {
    fprintf(stderr, "rate-load: cannot resolve %s\n", host);
    return 1;
  }
  memcpy(&target, found->ai_addr, sizeof target);
  freeaddrinfo(found);
  char *extra = "";
  if (argc == 9 && asprintf(&extra, "%s\r\n", argv[8]) < 0) fail("asprintf");
  build_requests(host, argv[3], argv[4], extra);

  epfd = epoll_create1(0);
  int timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  if (epfd < 0 || timer_fd < 0) fail("epoll/timerfd");
  struct epoll_event ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, timer_fd, &ev) != 0) fail("epoll_ctl timer");

  size_t count = (size_t)(rate * seconds + 0.5);
  latencies = malloc(count * sizeof(double));
  lateness = malloc(count * sizeof(double));
  phase((size_t)(rate * warmup + 0.5), rate, 0, timer_fd);
  double elapsed = phase(count, rate, 1, timer_fd);

  qsort(latencies, nlatencies, sizeof(double), compare);
  qsort(lateness, nlateness, sizeof(double), compare);
  printf("{\"rate\":%g,\"requests\":%zu,\"achievedRate\":%ld,\"latencyMs\":{\"p50\":%g,\"p90\":%g,\"p99\":%g,\"p999\":%g,\"max\":%g},"
         "\"lateMs\":{\"p99\":%g,\"max\":%g},\"non2xx\":%ld,\"errors\":%ld,\"connections\":%d}\n",
         rate, nlatencies, (long)(count / elapsed + 0.5), quantile(latencies, nlatencies, 0.5), quantile(latencies, nlatencies, 0.9),
         quantile(latencies, nlatencies, 0.99), quantile(latencies, nlatencies, 0.999), quantile(latencies, nlatencies, 1),
         quantile(lateness, nlateness, 0.99), quantile(lateness, nlateness, 1), non2xx, errors, nconns);
  return 0;
}
