/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libvirt worker thread of one connection and libvirt's event loop thread.
 * The connection is opened by the worker on its first job and reopened when it
 * died (a restarted libvirtd); the worker only ever blocks itself.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>

#include "libvirt-worker.h"
#include "log.h"
#include "util.h"

struct libvirt_worker {
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        pthread_cond_t wake;            /* a job was queued, or quit */
        pthread_cond_t ran;             /* a job has run */
        struct libvirt_job *queue, **queue_tail;
        struct libvirt_job *done, **done_tail;
        bool quit;
        int event_fd;
        sd_event_source *source;
        char *uri;
        virConnectPtr conn;             /* the worker thread's */
        libvirt_connected_fn connected;
        void *userdata;
};

/* libvirt's default event loop, needed for domain events and keep-alives:
 * registered once per process, run forever by one detached thread. */
static pthread_once_t event_loop_once = PTHREAD_ONCE_INIT;
static int event_loop_error;

static void *event_loop_thread(void *arg _unused_) {
        for (;;)
                if (virEventRunDefaultImpl() < 0)
                        log_warning("libvirt's event loop: %s", virGetLastErrorMessage());
        return NULL;
}

/* libvirt would print every error on stderr; we log the ones that matter. */
static void ignore_error(void *userdata _unused_, virErrorPtr error _unused_) {
}

static void event_loop_start(void) {
        pthread_t t;

        virSetErrorFunc(NULL, ignore_error);
        if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
                event_loop_error = -EIO;
                return;
        }
        event_loop_error = -pthread_create(&t, NULL, event_loop_thread, NULL);
        if (event_loop_error == 0)
                pthread_detach(t);
}

int libvirt_last_errno(void) {
        virErrorPtr e = virGetLastError();

        if (!e)
                return -EIO;
        switch (e->code) {
        case VIR_ERR_NO_DOMAIN:
                return -ENOENT;
        case VIR_ERR_DOM_EXIST:
                return -EEXIST;
        case VIR_ERR_OPERATION_INVALID:
                return -EBUSY;          /* e.g. not running, already paused */
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_NO_CONNECT:
                return -EOPNOTSUPP;
        case VIR_ERR_XML_ERROR:
        case VIR_ERR_INVALID_ARG:
        case VIR_ERR_CONFIG_UNSUPPORTED:
                return -EINVAL;
        case VIR_ERR_SYSTEM_ERROR:
                return e->int1 > 0 ? -e->int1 : -EIO;
        case VIR_ERR_AUTH_FAILED:
        case VIR_ERR_ACCESS_DENIED:
                return -EACCES;
        default:
                return -EIO;
        }
}

static void close_connection(struct libvirt_worker *w) {
        if (w->connected)
                (void) w->connected(w->userdata, w->conn, false);
        virConnectClose(w->conn);
        w->conn = NULL;
}

/* The thread's connection, (re)opened when needed; NULL with r set when it cannot be. */
static virConnectPtr worker_connection(struct libvirt_worker *w, int *r) {
        if (w->conn && virConnectIsAlive(w->conn) == 1)
                return w->conn;
        if (w->conn) {
                log_notice("libvirt connection to %s died: reconnecting", w->uri);
                close_connection(w);
        }
        w->conn = virConnectOpen(w->uri);
        if (!w->conn) {
                *r = libvirt_last_errno();
                log_warning("Cannot connect to libvirt at %s: %s", w->uri, virGetLastErrorMessage());
                return NULL;
        }
        /* A remote hypervisor that stops answering is noticed within ~15 s. */
        (void) virConnectSetKeepAlive(w->conn, 5, 3);
        if (w->connected && w->connected(w->userdata, w->conn, true) < 0)
                log_warning("libvirt at %s: cannot watch its events: %s", w->uri, virGetLastErrorMessage());
        return w->conn;
}

static void wake_loop(struct libvirt_worker *w) {
        uint64_t one = 1;

        (void) !write(w->event_fd, &one, sizeof(one));
}

static void *worker_thread(void *arg) {
        struct libvirt_worker *w = arg;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                struct libvirt_job *job;
                virConnectPtr conn;
                int r = 0;

                while (!w->queue && !w->quit)
                        pthread_cond_wait(&w->wake, &w->lock);
                if (w->quit)
                        break;
                job = w->queue;
                w->queue = job->next;
                if (!w->queue)
                        w->queue_tail = &w->queue;
                job->next = NULL;
                pthread_mutex_unlock(&w->lock);

                conn = worker_connection(w, &r);
                job->result = r;
                job->run(job, conn);

                pthread_mutex_lock(&w->lock);
                job->ran = true;
                *w->done_tail = job;
                w->done_tail = &job->next;
                pthread_cond_broadcast(&w->ran);
                wake_loop(w);
        }
        pthread_mutex_unlock(&w->lock);
        if (w->conn)
                close_connection(w);
        return NULL;
}

void libvirt_worker_dispatch(struct libvirt_worker *w) {
        struct libvirt_job *list;

        pthread_mutex_lock(&w->lock);
        list = w->done;
        w->done = NULL;
        w->done_tail = &w->done;
        pthread_mutex_unlock(&w->lock);
        while (list) {
                struct libvirt_job *job = list;
                list = job->next;
                job->next = NULL;
                job->finish(job);
        }
}

static int on_eventfd(sd_event_source *s _unused_, int fd, uint32_t revents _unused_, void *userdata) {
        uint64_t count;

        (void) !read(fd, &count, sizeof(count));
        libvirt_worker_dispatch(userdata);
        return 0;
}

int libvirt_worker_new(sd_event *event, const char *uri, libvirt_connected_fn connected, void *userdata,
                       struct libvirt_worker **ret) {
        struct libvirt_worker *w;
        int r;

        pthread_once(&event_loop_once, event_loop_start);
        if (event_loop_error < 0)
                return event_loop_error;
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->wake, NULL);
        pthread_cond_init(&w->ran, NULL);
        w->queue_tail = &w->queue;
        w->done_tail = &w->done;
        w->connected = connected;
        w->userdata = userdata;
        w->uri = strdup(uri);
        w->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (!w->uri || w->event_fd < 0) {
                r = w->uri ? -errno : -ENOMEM;
                goto fail;
        }
        r = sd_event_add_io(event, &w->source, w->event_fd, EPOLLIN, on_eventfd, w);
        if (r < 0)
                goto fail;
        r = -pthread_create(&w->thread, NULL, worker_thread, w);
        if (r < 0)
                goto fail;
        w->thread_started = true;
        *ret = w;
        return 0;
fail:
        libvirt_worker_free(w);
        return r;
}

void libvirt_worker_free(struct libvirt_worker *w) {
        if (!w)
                return;
        if (w->thread_started) {
                pthread_mutex_lock(&w->lock);
                w->quit = true;
                pthread_cond_broadcast(&w->wake);
                pthread_mutex_unlock(&w->lock);
                pthread_join(w->thread, NULL);
        }
        /* Unfinished jobs: their owners are going away too. */
        for (struct libvirt_job *lists[2] = { w->queue, w->done }, **l = lists; l < lists + 2; l++)
                while (*l) {
                        struct libvirt_job *job = *l;
                        *l = job->next;
                        job->result = -ECANCELED;
                        job->next = NULL;
                        job->finish(job);
                }
        sd_event_source_disable_unref(w->source);
        if (w->event_fd >= 0)
                close(w->event_fd);
        pthread_cond_destroy(&w->ran);
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->lock);
        free(w->uri);
        free(w);
}

void libvirt_worker_submit(struct libvirt_worker *w, struct libvirt_job *job) {
        job->next = NULL;
        job->ran = false;
        pthread_mutex_lock(&w->lock);
        *w->queue_tail = job;
        w->queue_tail = &job->next;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
}

void libvirt_worker_post(struct libvirt_worker *w, struct libvirt_job *job) {
        job->next = NULL;
        pthread_mutex_lock(&w->lock);
        job->ran = true;
        *w->done_tail = job;
        w->done_tail = &job->next;
        wake_loop(w);
        pthread_mutex_unlock(&w->lock);
}

int libvirt_worker_wait_run(struct libvirt_worker *w, struct libvirt_job *job, uint64_t timeout_usec) {
        struct timespec deadline;
        int r = 0;

        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += (time_t) (timeout_usec / 1000000);
        deadline.tv_nsec += (long) (timeout_usec % 1000000) * 1000;
        if (deadline.tv_nsec >= 1000000000) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&w->lock);
        while (!job->ran && r == 0)
                r = -pthread_cond_timedwait(&w->ran, &w->lock, &deadline);
        r = job->ran ? 0 : -ETIMEDOUT;
        pthread_mutex_unlock(&w->lock);
        return r;
}
