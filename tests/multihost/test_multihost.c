/* Graphs across hosts between two network namespaces (tests/multihost/two_hosts.sh): the
 * example's block edge carries every frame; a 200 Mbit/s link drops (drop_oldest) or slows the
 * source (block); 1 % packet loss loses no frame under block; a 3 s cut loses only its own
 * frames and the link comes back; the far launcher SIGKILLed and restarted leaves the near run
 * unaffected; a peer with another key is refused. Each checks that both hosts' /dev/shm end empty
 * with every buffer back. They need root and namespaces: without them the program exits 77
 * (skipped). */
#include "harness.h"
#include "skip_main.h"

TestSuite(multihost, .timeout = MH_TIMEOUT);

Test(multihost, plain_block_edge_verifies_every_frame_on_both_hosts)
{
    mh_expect_pass("plain");
}

Test(multihost, a_200mbit_link_under_drop_oldest_keeps_the_source_rate)
{
    mh_expect_pass("slow-drop");
}

Test(multihost, a_200mbit_link_under_block_slows_the_source_and_loses_nothing)
{
    mh_expect_pass("slow-block");
}

Test(multihost, one_percent_packet_loss_under_block_loses_no_frame)
{
    mh_expect_pass("loss");
}

Test(multihost, a_3s_link_cut_loses_only_its_frames_and_the_link_comes_back)
{
    mh_expect_pass("cut");
}

Test(multihost, the_far_launcher_killed_and_restarted_leaves_the_near_run_unaffected)
{
    mh_expect_pass("kill");
}

Test(multihost, a_peer_with_another_key_is_refused_and_nothing_crosses)
{
    mh_expect_pass("wrong-key");
}

/* Whether two_hosts.sh can make its namespaces here (its `probe` exits 0). */
static bool namespaces_work(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execl("/bin/bash", "bash", TWO_HOSTS, XMEM_CLI, "probe", (char *)NULL);
        _exit(127);
    }
    int status;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
           WEXITSTATUS(status) == 0;
}

XF_MAIN_SKIPPED_UNLESS(namespaces_work(), "no network and mount namespaces here (needs root): "
                                          "these tests are skipped (exit 77)")
