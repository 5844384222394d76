//! Redis Sentinel: one master, two replicas, three Sentinels, three sidegate processes
//! under steady load. SIGKILL the master: nothing is allowed without a session, checks
//! recover within 10 s of the promotion without restarting sidegate, sessions written
//! before the kill survive (session writes `WAIT` for a replica), and a logout still
//! reaches every instance within 100 ms. Then the old master comes back as a replica and
//! the new master is killed: the same again.

use std::time::{Duration, Instant};

use ::sidegate::store::{RedisSettings, RedisStore, RedisTarget};

use crate::failover::{
    logout_reaches_the_others, promoted, recovered, row, start_load, Instances, Report,
};
use crate::harness::browser::sign_in;
use crate::harness::sentinel::{Sentinels, GROUP};
use crate::harness::sidegate::{self, SidegateProcess};
use crate::harness::{free_port, Idp, RedisServer};

async fn instances(topology: &Sentinels, idp: &Idp, ports: &[u16]) -> Instances {
    let mut procs = vec![];
    for p in ports {
        let mut vars = sidegate::vars(
            &format!("http://auth.example.test:{p}"),
            &idp.issuer(),
            None,
        );
        vars.push(("SIDEGATE_REDIS_URL".into(), format!("redis://{GROUP}/0")));
        vars.push(("SIDEGATE_REDIS_SENTINELS".into(), topology.addresses()));
        vars.push(("SIDEGATE_LOG".into(), "sidegate=info,warn".into()));
        procs.push(SidegateProcess::spawn_on(*p, vars).await);
    }
    Instances {
        procs,
        ports: ports.to_vec(),
    }
}

/// Kills the master under load; the round's counts once checks are back.
async fn kill_the_master(
    topology: &mut Sentinels,
    instances: &Instances,
    sessions: &[String],
) -> (Report, u16) {
    let old = topology.master().await.unwrap();
    let load = start_load(instances, sessions);
    tokio::time::sleep(Duration::from_secs(2)).await;
    topology.server(old).kill();
    let killed = Instant::now();
    let new = promoted(killed, old, || topology.master()).await;
    let what = format!("Sentinel failover :{old} -> :{new}");
    let report = recovered(load, killed, instances, sessions, &what).await;
    (report, old)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_under_load_loses_no_session_and_allows_nothing() {
    let mut topology = Sentinels::start().await;
    crate::store::store_suite(
        RedisStore::with_settings(&RedisSettings {
            target: RedisTarget::Sentinel {
                master: format!("redis://{GROUP}/0"),
                sentinels: topology.addresses().split(',').map(str::to_owned).collect(),
            },
            ca: None,
            wait_replicas: 1,
        })
        .unwrap(),
    )
    .await;
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let idp = Idp::for_ports(&ports).await;
    let instances = instances(&topology, &idp, &ports).await;
    let mut sessions = vec![];
    for p in &ports {
        sessions.push(sign_in(*p).await);
    }
    // Each session write waited for a replica (WAIT after the SET, on the master).
    let master = topology.master().await.unwrap();
    assert!(
        topology.server(master).calls("wait").await >= 3,
        "session writes did not WAIT"
    );
    // Written at least a second before the kill.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (first, old) = kill_the_master(&mut topology, &instances, &sessions).await;
    let took = logout_reaches_the_others(&instances).await;
    println!("after the first failover a logout reached the others in {took:?}");

    // The old master comes back (empty: no persistence) and Sentinel makes it a replica.
    topology.servers.retain(|s| s.port != old);
    topology.servers.push(RedisServer::start_on(old).await);
    let master = topology.master().await.unwrap();
    topology.wait_until_settled(master).await;
    assert_eq!(topology.server(old).role().await, "slave");
    // Every instance says it is ready again (store and IdP answer) before the next login:
    // a CI machine under load may still be finishing the rejoin when the Sentinels agree.
    let client = reqwest::Client::new();
    for proc in &instances.procs {
        let url = format!("http://{}/readyz", proc.addr);
        let since = Instant::now();
        while !crate::harness::answers_200(&client, &url).await {
            assert!(
                since.elapsed() < Duration::from_secs(15),
                "{url} not ready after the rejoin"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    sessions.push(sign_in(ports[1]).await);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (second, _) = kill_the_master(&mut topology, &instances, &sessions).await;
    let took = logout_reaches_the_others(&instances).await;
    println!("after the second failover a logout reached the others in {took:?}");
    println!("{}", row("Sentinel, first kill", &first));
    println!("{}", row("Sentinel, second kill", &second));
}
