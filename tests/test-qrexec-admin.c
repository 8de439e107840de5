/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * qubesd's qrexec side with the real busd and qubesd (no qrexec-policyd: the
 * test connects to busd as the policyd role itself, by taking its uid for the
 * connect, since busd knows a peer by SO_PEERCRED): system info pushed and
 * updated, policy status through the Admin API and `qubes-ctl policy status`,
 * the ask relay with `qubes-ctl ask-agent`, start requests, disposables made
 * and killed (and removed), Run's data socket, and `qubes-ctl run` end to end.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "admin-client.h"
#include "bus-client.h"
#include "stack-harness.h"
#include "util.h"

#define SEC UINT64_C(1000000)

static void stack_setup(void) {
        admin_stack_start("--only", "busd,qubesd", NULL);
}

/* A connection busd takes for qrexec-policyd: made while our euid is the role's. */
static struct bus_client *connect_as_policyd(void) {
        const char *base = getenv("ODYSSEY_UID_BASE");
        uid_t uid = (base ? (uid_t) atoi(base) : 64100) + BUS_ROLE_POLICYD;
        struct bus_client *c = NULL;
        int r;

        ck_assert_int_eq(seteuid(uid), 0);
        r = bus_client_connect(admin_stack.bus_socket, 5 * SEC, &c);
        ck_assert_int_eq(seteuid(0), 0);
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(bus_client_role(c), BUS_ROLE_POLICYD);
        return c;
}

static struct bus_message *msg_new(void) {
        struct bus_message *m = calloc(1, sizeof(*m));
        ck_assert_ptr_nonnull(m);
        return m;
}

/* The next message of `type` (about `name` if not NULL), others skipped. */
static bool receive_type(struct bus_client *c, uint16_t type, const char *name, struct bus_message *m) {
        uint64_t deadline = now_usec() + 20 * SEC;

        while (now_usec() < deadline) {
                if (bus_client_receive(c, deadline - now_usec(), m) < 0)
                        return false;
                if (m->hdr.type != type)
                        continue;
                if (!name || (type == BUS_MSG_DOMAIN_INFO && strcmp(m->u.domain_info.name, name) == 0) ||
                    (type == BUS_MSG_DOMAIN_INFO_REMOVED && strcmp(m->u.domain_info_removed.name, name) == 0))
                        return true;
        }
        return false;
}

struct info_log {
        struct bus_msg_domain_info infos[16];
        size_t n;
};

static int collect_info(struct bus_client *c, const struct bus_message *msg, void *userdata) {
        struct info_log *log = userdata;
        if (msg->hdr.type == BUS_MSG_DOMAIN_INFO && log->n < 16)
                log->infos[log->n++] = msg->u.domain_info;
        return 0;
}

static const struct bus_msg_domain_info *find_info(const struct info_log *log, const char *name) {
        for (size_t i = 0; i < log->n; i++)
                if (strcmp(log->infos[i].name, name) == 0)
                        return &log->infos[i];
        return NULL;
}

static size_t distinct_names(const struct info_log *log) {
        size_t n = 0;

        for (size_t i = 0; i < log->n; i++)
                n += find_info(log, log->infos[i].name) == &log->infos[i];
        return n;
}

START_TEST(test_system_info) {
        sd_bus *bus = admin_stack_client();
        struct bus_message *m = msg_new();
        static struct info_log log;
        struct bus_msg_system_info_subscribe sub = {};
        const struct bus_msg_domain_info *info;
        struct bus_client *pd;

        ck_assert_str_eq(admin_create(bus, "si-tpl", "TemplateVM", "black", NULL, NULL), "");
        ck_assert_str_eq(admin_create(bus, "si-app", "AppVM", "red", "template", "si-tpl"), "");
        ck_assert_str_eq(admin_domain_call(bus, "si-app", "AddTag", NULL, "s", "work"), "");
        /* policyd comes later: it learns all from the subscription */
        pd = connect_as_policyd();

        bus_client_set_handler(pd, collect_info, &log);
        ck_assert_int_eq(bus_client_call(pd, BUS_MSG_SYSTEM_INFO_SUBSCRIBE, 0, &sub, 10 * SEC, m), 0);
        ck_assert_int_eq(m->hdr.type, BUS_MSG_SYSTEM_INFO_DONE);
        ck_assert_uint_eq(m->u.system_info_done.domains, 3);
        /* One description of each domain; a push of a change that was still on
         * its way (the tag) may describe one of them twice, never another. */
        ck_assert_uint_eq(distinct_names(&log), 3);
        info = find_info(&log, "dom0");
        ck_assert_ptr_nonnull(info);
        ck_assert_str_eq(info->klass, "AdminVM");
        ck_assert_uint_eq(info->domid, 0);
        ck_assert_uint_eq(info->power_state, BUS_POWER_RUNNING);
        info = find_info(&log, "si-app");
        ck_assert_ptr_nonnull(info);
        ck_assert_str_eq(info->klass, "AppVM");
        ck_assert_str_eq(info->tags, "work");
        ck_assert_str_eq(info->icon, "red");
        ck_assert_str_eq(info->default_user, "user");
        ck_assert_uint_eq(info->power_state, BUS_POWER_HALTED);
        ck_assert_uint_eq(info->template_for_dispvms, 0);
        ck_assert_uint_ne(info->domid, 0);
        bus_client_set_handler(pd, NULL, NULL);

        /* changes come by themselves */
        ck_assert_str_eq(admin_domain_call(bus, "si-app", "AddTag", NULL, "s", "banking"), "");
        ck_assert(receive_type(pd, BUS_MSG_DOMAIN_INFO, "si-app", m));
        ck_assert_str_eq(m->u.domain_info.tags, "banking work");
        ck_assert_str_eq(admin_domain_call(bus, "si-app", "SetProperty", NULL, "ss", "default_user", "alice"), "");
        ck_assert(receive_type(pd, BUS_MSG_DOMAIN_INFO, "si-app", m));
        ck_assert_str_eq(m->u.domain_info.default_user, "alice");
        ck_assert_str_eq(admin_domain_call(bus, "si-app", "SetProperty", NULL, "ss", "template_for_dispvms", "True"),
                         "");
        ck_assert(receive_type(pd, BUS_MSG_DOMAIN_INFO, "si-app", m));
        ck_assert_uint_eq(m->u.domain_info.template_for_dispvms, 1);
        ck_assert_str_eq(admin_create(bus, "si-new", "AppVM", "green", "template", "si-tpl"), "");
        ck_assert(receive_type(pd, BUS_MSG_DOMAIN_INFO, "si-new", m));
        ck_assert_str_eq(admin_manager_call(bus, "RemoveDomain", NULL, "s", "si-new"), "");
        ck_assert(receive_type(pd, BUS_MSG_DOMAIN_INFO_REMOVED, "si-new", m));

        free(m);
        bus_client_free(pd);
        sd_bus_unref(bus);
}
END_TEST

START_TEST(test_policy_status) {
        sd_bus *bus = admin_stack_client();
        struct bus_client *pd = connect_as_policyd();
        _cleanup_free_ struct bus_msg_policy_status *st = calloc(1, sizeof(*st));
        sd_bus_message *reply = NULL;
        const char *error = NULL;
        char out[4096];

        ck_assert_str_eq(admin_manager_call(bus, "GetPolicyStatus", NULL, NULL), ADMIN_ERROR "NotRunning");
        ck_assert_int_eq(test_stack_run(&admin_stack, out, sizeof(out), "client/qubes-ctl", "policy", "status", NULL), 1);

        *st = (struct bus_msg_policy_status) { .ok = 0, .files = 3, .rules = 40, .loaded_usec = 1700000000000000 };
        snprintf(st->policy_dir, sizeof(st->policy_dir), "/etc/qubes/policy.d");
        snprintf(st->errors, sizeof(st->errors), "30-user.policy:7: invalid action 'alow'");
        ck_assert_int_eq(bus_client_send(pd, BUS_MSG_POLICY_STATUS, 0, 1, st), 0);
        /* the status arrives asynchronously: ask until it is there */
        for (int i = 0; i < 2000; i++) {
                error = admin_manager_call(bus, "GetPolicyStatus", &reply, NULL);
                if (!*error)
                        break;
                usleep(10000);
        }
        ck_assert_str_eq(error, "");
        int ok;
        uint32_t files, rules;
        uint64_t loaded;
        const char *dir, *errors;
        ck_assert_int_ge(sd_bus_message_read(reply, "buutss", &ok, &files, &rules, &loaded, &dir, &errors), 0);
        ck_assert_int_eq(ok, 0);
        ck_assert_uint_eq(files, 3);
        ck_assert_uint_eq(rules, 40);
        ck_assert_str_eq(dir, "/etc/qubes/policy.d");
        ck_assert_str_eq(errors, "30-user.policy:7: invalid action 'alow'");
        sd_bus_message_unref(reply);

        ck_assert_int_eq(test_stack_run(&admin_stack, out, sizeof(out), "client/qubes-ctl", "policy", "status", NULL), 1);
        ck_assert_ptr_nonnull(strstr(out, "status: broken"));
        ck_assert_ptr_nonnull(strstr(out, "30-user.policy:7: invalid action 'alow'"));
        ck_assert_ptr_nonnull(strstr(out, "rules: 40"));

        st->ok = 1;
        st->errors[0] = '\0';
        ck_assert_int_eq(bus_client_send(pd, BUS_MSG_POLICY_STATUS, 0, 2, st), 0);
        int status = -1;
        for (int i = 0; i < 2000 && status != 0; i++) {
                status = test_stack_run(&admin_stack, out, sizeof(out), "client/qubes-ctl", "policy", "status", NULL);
                if (status != 0)
                        usleep(10000);
        }
        ck_assert_int_eq(status, 0);
        ck_assert_ptr_nonnull(strstr(out, "status: ok"));
        bus_client_free(pd);
        sd_bus_unref(bus);
}
END_TEST

/* `qubes-ctl ask-agent ARGS`, its stdout on *ret_out; returns once it said it registered. */
static pid_t start_ask_agent(const char *arg1, const char *arg2, FILE **ret_out) {
        char path[sizeof(admin_stack.builddir) + 64], env[sizeof(admin_stack.admin_address) + 32], line[256];
        int pipefd[2];
        pid_t pid;

        snprintf(path, sizeof(path), "%s/client/qubes-ctl", admin_stack.builddir);
        snprintf(env, sizeof(env), "QUBES_ADMIN_ADDRESS=%s", admin_stack.admin_address);
        ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                dup2(pipefd[1], STDOUT_FILENO);
                putenv(env);
                execl(path, path, "ask-agent", arg1, arg2, (char *) NULL);
                _exit(127);
        }
        close(pipefd[1]);
        *ret_out = fdopen(pipefd[0], "r");
        ck_assert_ptr_nonnull(*ret_out);
        ck_assert_ptr_nonnull(fgets(line, sizeof(line), *ret_out));
        ck_assert_ptr_nonnull(strstr(line, "Registered as the ask agent"));
        return pid;
}

static int ask(struct bus_client *pd, const char *targets, const char *default_target, char *target, size_t size) {
        _cleanup_free_ struct bus_msg_ask_request *req = calloc(1, sizeof(*req));
        _cleanup_free_ struct bus_message *m = msg_new();
        int r;

        snprintf(req->source, sizeof(req->source), "work");
        snprintf(req->service, sizeof(req->service), "qubes.Filecopy");
        snprintf(req->targets, sizeof(req->targets), "%s", targets);
        snprintf(req->default_target, sizeof(req->default_target), "%s", default_target);
        r = bus_client_call(pd, BUS_MSG_ASK_REQUEST, 0, req, 30 * SEC, m);
        ck_assert_int_eq(r, 0);
        ck_assert_int_eq(m->hdr.type, BUS_MSG_ASK_REPLY);
        snprintf(target, size, "%s", m->u.ask_reply.target);
        return m->u.ask_reply.error;
}

START_TEST(test_ask_relay) {
        struct bus_client *pd = connect_as_policyd();
        char target[64], line[512];
        FILE *out;
        pid_t agent;
        int status, r;

        ck_assert_int_eq(ask(pd, "personal vault", "", target, sizeof(target)), -EHOSTDOWN);

        agent = start_ask_agent("--answer", "personal", &out);
        ck_assert_int_eq(ask(pd, "personal vault", "vault", target, sizeof(target)), 0);
        ck_assert_str_eq(target, "personal");
        ck_assert_ptr_nonnull(fgets(line, sizeof(line), out));
        ck_assert_str_eq(line, "ask source=work service=qubes.Filecopy targets=personal,vault default=vault "
                               "answer=personal\n");
        /* an answer that was not offered is a refusal */
        ck_assert_int_eq(ask(pd, "vault", "", target, sizeof(target)), -EACCES);
        /* one agent at a time */
        char out2[512];
        ck_assert_int_ne(test_stack_run(&admin_stack, out2, sizeof(out2), "client/qubes-ctl", "ask-agent", "--deny", NULL), 0);

        /* its connection gone, the agent is gone */
        kill(agent, SIGTERM);
        waitpid(agent, &status, 0);
        fclose(out);
        r = 0;
        for (int i = 0; i < 2000 && r != -EHOSTDOWN; i++) {
                r = ask(pd, "personal", "", target, sizeof(target));
                if (r != -EHOSTDOWN)
                        usleep(10000);
        }
        ck_assert_int_eq(r, -EHOSTDOWN);

        agent = start_ask_agent("--deny", NULL, &out);
        ck_assert_int_eq(ask(pd, "personal", "personal", target, sizeof(target)), -EACCES);
        ck_assert_ptr_nonnull(fgets(line, sizeof(line), out));
        ck_assert_ptr_nonnull(strstr(line, "answer=deny"));
        kill(agent, SIGTERM);
        waitpid(agent, &status, 0);
        fclose(out);
        bus_client_free(pd);
}
END_TEST

static int request_start(struct bus_client *pd, const char *name, struct bus_message *m) {
        struct bus_msg_domain_start_request req = {};

        snprintf(req.name, sizeof(req.name), "%s", name);
        ck_assert_int_eq(bus_client_call(pd, BUS_MSG_DOMAIN_START_REQUEST, 0, &req, 120 * SEC, m), 0);
        ck_assert_int_eq(m->hdr.type, BUS_MSG_DOMAIN_START_REPLY);
        return m->u.domain_start_reply.error;
}

START_TEST(test_start_dispvm_run) {
        sd_bus *bus = admin_stack_client();
        struct bus_client *pd = connect_as_policyd();
        struct bus_message *m = msg_new();
        struct bus_msg_dispvm_create_request dreq = {};
        struct bus_msg_domain_kill_request kreq = {};
        sd_bus_message *reply = NULL;
        char path[1024], name[64];
        struct stat st;
        uint32_t port, domid;
        int fd;

        admin_stack_require_agents();
        ck_assert_str_eq(admin_create(bus, "q-tpl", "TemplateVM", "black", NULL, NULL), "");
        ck_assert_str_eq(admin_create(bus, "q-app", "AppVM", "blue", "template", "q-tpl"), "");
        ck_assert_str_eq(admin_create(bus, "q-dvm", "AppVM", "red", "template", "q-tpl"), "");

        /* start requests */
        ck_assert_int_eq(request_start(pd, "nonexistent", m), -ENOENT);
        ck_assert_int_eq(request_start(pd, "q-app", m), 0);
        domid = m->u.domain_start_reply.domid;
        ck_assert_str_eq(admin_prop(bus, "q-app", "state"), "Running");
        ck_assert_int_eq(request_start(pd, "q-app", m), 0);     /* running: at once */
        ck_assert_uint_eq(m->u.domain_start_reply.domid, domid);

        /* Run: a listening socket in the domain's vchan dir, one port each,
         * the even ones (busd gives the odd ones to calls to the admin domain) */
        ck_assert_str_eq(admin_domain_call(bus, "q-app", "Run", &reply, "ssbb", "", "true", 0, 0), "");
        ck_assert_int_ge(sd_bus_message_read(reply, "hu", &fd, &port), 0);
        ck_assert_uint_eq(port, 514);
        /* the native backend's vchan dir of a domain is <run>/vchan/<name> */
        snprintf(path, sizeof(path), "%s/run/vchan/q-app/vchan.0.%u.514.sock", admin_stack.root, domid);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 0777, 0666);
        sd_bus_message_unref(reply);
        ck_assert_str_eq(admin_domain_call(bus, "q-app", "Run", &reply, "ssbb", "alice", "true", 0, 0), "");
        ck_assert_int_ge(sd_bus_message_read(reply, "hu", &fd, &port), 0);
        ck_assert_uint_eq(port, 516);
        sd_bus_message_unref(reply);
        ck_assert_str_eq(admin_domain_call(bus, "q-app", "Run", NULL, "ssbb", "Bad User", "true", 0, 0),
                         ADMIN_ERROR "InvalidValue");
        ck_assert_str_eq(admin_domain_call(bus, "q-tpl", "Run", NULL, "ssbb", "", "true", 0, 0),
                         ADMIN_ERROR "NotRunning");
        /* the domain stops: its data sockets go */
        ck_assert_str_eq(admin_domain_call(bus, "q-app", "Kill", NULL, NULL), "");
        ck_assert_int_eq(access(path, F_OK), -1);

        /* disposables: only from a disposable template */
        snprintf(dreq.template_name, sizeof(dreq.template_name), "q-dvm");
        ck_assert_int_eq(bus_client_call(pd, BUS_MSG_DISPVM_CREATE_REQUEST, 0, &dreq, 120 * SEC, m), 0);
        ck_assert_int_ne(m->u.dispvm_create_reply.error, 0);
        ck_assert_str_eq(admin_domain_call(bus, "q-dvm", "SetProperty", NULL, "ss", "template_for_dispvms", "True"),
                         "");
        ck_assert_int_eq(bus_client_call(pd, BUS_MSG_DISPVM_CREATE_REQUEST, 0, &dreq, 120 * SEC, m), 0);
        ck_assert_int_eq(m->u.dispvm_create_reply.error, 0);
        snprintf(name, sizeof(name), "%s", m->u.dispvm_create_reply.name);
        ck_assert_str_eq(name, "disp1");
        ck_assert_str_eq(admin_prop(bus, "disp1", "state"), "Running");
        ck_assert_str_eq(admin_prop(bus, "disp1", "klass"), "DispVM");
        ck_assert_str_eq(admin_prop(bus, "disp1", "template"), "q-dvm");
        snprintf(kreq.name, sizeof(kreq.name), "disp1");
        kreq.remove = 1;
        ck_assert_int_eq(bus_client_call(pd, BUS_MSG_DOMAIN_KILL_REQUEST, 0, &kreq, 120 * SEC, m), 0);
        ck_assert_int_eq(m->u.domain_kill_reply.error, 0);
        ck_assert(!admin_list_has(bus, "disp1"));

        /* CreateDisposable; a DispVM that stops is removed, whoever stopped it */
        ck_assert_str_eq(admin_manager_call(bus, "CreateDisposable", &reply, "s", "q-dvm"), "");
        const char *created;
        ck_assert_int_ge(sd_bus_message_read(reply, "s", &created), 0);
        snprintf(name, sizeof(name), "%s", created);
        sd_bus_message_unref(reply);
        ck_assert_str_eq(admin_prop(bus, name, "state"), "Running");
        ck_assert_str_eq(admin_domain_call(bus, name, "Kill", NULL, NULL), "");
        bool gone = false;
        for (int i = 0; i < 2000 && !gone; i++) {
                gone = !admin_list_has(bus, name);
                if (!gone)
                        usleep(10000);
        }
        ck_assert(gone);
        /* no default_dispvm: an error, not a crash */
        ck_assert_str_ne(admin_manager_call(bus, "CreateDisposable", NULL, "s", ""), "");

        free(m);
        bus_client_free(pd);
        sd_bus_unref(bus);
}
END_TEST

/* `qubes-ctl run` end to end, with the domain's real qrexec-agent. */
START_TEST(test_ctl_run) {
        sd_bus *bus = admin_stack_client();
        char out[4096];

        admin_stack_require_agents();
        ck_assert_str_eq(admin_create(bus, "r-tpl", "TemplateVM", "black", NULL, NULL), "");
        ck_assert_str_eq(admin_create(bus, "r-app", "AppVM", "blue", "template", "r-tpl"), "");
        /* halted: started by run */
        ck_assert_int_eq(test_stack_run(&admin_stack, out, sizeof(out), "client/qubes-ctl", "run", "--pass-io", "r-app",
                                        "echo", "hello", "from", "r-app", NULL), 0);
        ck_assert_str_eq(out, "hello from r-app\n");
        ck_assert_str_eq(admin_prop(bus, "r-app", "state"), "Running");
        ck_assert_int_eq(test_stack_run(&admin_stack, out, sizeof(out), "client/qubes-ctl", "run", "-p", "r-app",
                                        "exit 3", NULL), 3);
        ck_assert_int_eq(test_stack_run(&admin_stack, out, sizeof(out), "client/qubes-ctl", "run", "-p", "--user", "alice",
                                        "r-app", "echo $USER", NULL), 0);
        ck_assert_str_eq(out, "alice\n");
        /* without --pass-io: started, nothing shown */
        ck_assert_int_eq(test_stack_run(&admin_stack, out, sizeof(out), "client/qubes-ctl", "run", "r-app", "echo hidden",
                                        NULL), 0);
        ck_assert_str_eq(out, "");
        /* a disposable, gone afterwards */
        ck_assert_str_eq(admin_domain_call(bus, "r-app", "SetProperty", NULL, "ss", "template_for_dispvms", "True"),
                         "");
        ck_assert_int_eq(test_stack_run(&admin_stack, out, sizeof(out), "client/qubes-ctl", "run", "-p", "--dispvm=r-app",
                                        "hostname", NULL), 0);
        ck_assert_ptr_nonnull(strstr(out, "disp"));
        bool gone = false;
        for (int i = 0; i < 2000 && !gone; i++) {
                gone = !admin_list_has(bus, "disp1");
                if (!gone)
                        usleep(10000);
        }
        ck_assert(gone);
        sd_bus_unref(bus);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("qrexec-admin");
        TCase *tc = tcase_create("qubesd");

        tcase_add_checked_fixture(tc, stack_setup, admin_stack_stop);
        tcase_set_timeout(tc, 240);
        tcase_add_test(tc, test_system_info);
        tcase_add_test(tc, test_policy_status);
        tcase_add_test(tc, test_ask_relay);
        tcase_add_test(tc, test_start_dispvm_run);
        tcase_add_test(tc, test_ctl_run);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(suite());
        int failed;

        if (geteuid() != 0) {
                fprintf(stderr, "SKIP: needs root (busd's role table, the native backend)\n");
                return 77;
        }
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
