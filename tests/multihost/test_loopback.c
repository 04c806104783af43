/* A graph across hosts with both hosts on this machine's loopback (tests/multihost/two_hosts.sh
 * loopback): two launchers, two pools, one CURVE link between them on 127.0.0.1; every frame
 * crosses the example's block edge and verifies, nothing is left in /dev/shm. Needs neither root
 * nor namespaces, so it runs everywhere. */
#include "harness.h"

TestSuite(multihost_loopback, .timeout = MH_TIMEOUT);

Test(multihost_loopback, two_launchers_on_one_machine_carry_every_frame)
{
    mh_expect_pass("loopback");
}
