//! Redis Cluster: six nodes (three masters, three replicas) made by `redis-cli --cluster
//! create`. The store suite every store passes; three sidegate processes whose logout
//! reaches each other over cluster pub/sub; and a master failover under load with the
//! same guarantees as Sentinel's (nothing allowed without a session, sessions kept, checks
//! back within 10 s of the promotion, invalidation working afterwards).

use std::time::{Duration, Instant};

use ::sidegate::store::{RedisSettings, RedisStore, RedisTarget};

use crate::failover::{check, logout_reaches_the_others, start_load, Instances};
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
    let callbacks: Vec<String> = ports
        .iter()
        .map(|p| format!("http://auth.example.test:{p}/callback"))
        .collect();
    let idp = Idp::start(&callbacks).await;
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
    let new = loop {
        match cluster.master_of(asker, &key).await {
            Some(m) if m != old => break m,
            _ => {}
        }
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "no promotion 30 s after the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let promotion = killed.elapsed();
    let report = load
        .finish(
            killed,
            promotion,
            Duration::from_secs(3),
            Duration::from_secs(30),
        )
        .await;
    println!("Cluster failover :{old} -> :{new}: {report:?}");
    assert!(report.allowed > 0 && report.refused > 0, "{report:?}");
    assert!(
        report.recovery <= promotion + Duration::from_secs(10),
        "checks failed until {:?} after the kill, the promotion was at {promotion:?}",
        report.recovery
    );
    let client = reqwest::Client::new();
    for proc in &instances.procs {
        for s in &sessions {
            assert_eq!(
                check(&client, proc.addr, Some(s)).await,
                200,
                "a session written before the kill is gone"
            );
        }
    }
    let took = logout_reaches_the_others(&instances).await;
    println!("after the cluster failover a logout reached the others in {took:?}");
    println!(
        "| Cluster, master kill | {} | {} | {} | {} | {:.1} s | {:.1} s |",
        report.requests,
        report.allowed,
        report.refused,
        report.errors,
        report.promotion.as_secs_f64(),
        report.recovery.as_secs_f64()
    );
}
