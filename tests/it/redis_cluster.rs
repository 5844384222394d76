//! Redis Cluster: six nodes (three masters, three replicas) made by `redis-cli --cluster
//! create`. The store suite every store passes; three sidegate processes whose logout
//! reaches each other over cluster pub/sub; and a master failover under load with the
//! same guarantees as Sentinel's (nothing allowed without a session, sessions kept, checks
//! back within 10 s of the promotion, invalidation working afterwards).

use std::time::{Duration, Instant};

use ::sidegate::store::{RedisSettings, RedisStore, RedisTarget};

use crate::failover::{logout_reaches_the_others, promoted, recovered, row, start_load, Instances};
use crate::harness::browser::sign_in;
use crate::harness::redis_cluster::RedisCluster;
use crate::harness::sidegate::{self, SidegateProcess};
use crate::harness::{free_port, Idp};

fn settings(cluster: &RedisCluster) -> RedisSettings {
    RedisSettings {
        target: RedisTarget::Cluster(cluster.seeds().split(',').map(str::to_owned).collect()),
        ca: None,
        wait_replicas: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_store_passes_the_suite_and_fails_over_under_load() {
    let mut cluster = RedisCluster::start().await;
    crate::store::store_suite(RedisStore::with_settings(&settings(&cluster)).unwrap()).await;

    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let idp = Idp::for_ports(&ports).await;
    let mut procs = vec![];
    for p in &ports {
        let mut vars = sidegate::vars(
            &format!("http://auth.example.test:{p}"),
            &idp.issuer(),
            None,
        );
        vars.push(("SIDEGATE_REDIS_CLUSTER_NODES".into(), cluster.seeds()));
        vars.push(("SIDEGATE_LOG".into(), "sidegate=info,warn".into()));
        procs.push(SidegateProcess::spawn_on(*p, vars).await);
    }
    let instances = Instances {
        procs,
        ports: ports.clone(),
    };
    let took = logout_reaches_the_others(&instances).await;
    println!("over cluster pub/sub a logout reached the others in {took:?}");

    let mut sessions = vec![];
    for p in &ports {
        sessions.push(sign_in(*p).await);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Kill the master holding the first session; its replica takes the slots over.
    let key = format!("sidegate:s:{}", sessions[0].split_once('.').unwrap().0);
    let old = cluster.master_of(0, &key).await.unwrap();
    let asker = cluster.nodes.iter().position(|n| n.port != old).unwrap();
    let load = start_load(&instances, &sessions);
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.node(old).kill();
    let killed = Instant::now();
    let new = promoted(killed, old, || cluster.master_of(asker, &key)).await;
    let what = format!("Cluster failover :{old} -> :{new}");
    let report = recovered(load, killed, &instances, &sessions, &what).await;
    let took = logout_reaches_the_others(&instances).await;
    println!("after the cluster failover a logout reached the others in {took:?}");
    println!("{}", row("Cluster, master kill", &report));
}
