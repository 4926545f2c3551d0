package jobs

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"uploader/internal/devstack"
	"uploader/internal/testenv"
	"uploader/internal/upload"
)

func TestRedisOpt(t *testing.T) {
	secure := &tls.Config{MinVersion: tls.VersionTLS12}
	for _, tc := range []struct {
		url     string
		want    asynq.RedisConnOpt
		wantErr string
	}{
		{url: "redis://:pw@127.0.0.1:6379/3", want: asynq.RedisClientOpt{Addr: "127.0.0.1:6379", Password: "pw", DB: 3}},
		{url: "redis-sentinel://:pw@10.0.0.1:26379,10.0.0.2/2?master=mymaster",
			want: asynq.RedisFailoverClientOpt{MasterName: "mymaster", SentinelAddrs: []string{"10.0.0.1:26379", "10.0.0.2:26379"}, Password: "pw", DB: 2}},
		{url: "redis-sentinel://10.0.0.1:26379?master=m&sentinel_password=s",
			want: asynq.RedisFailoverClientOpt{MasterName: "m", SentinelAddrs: []string{"10.0.0.1:26379"}, SentinelPassword: "s"}},
		{url: "rediss-sentinel://10.0.0.1:26379?master=m",
			want: asynq.RedisFailoverClientOpt{MasterName: "m", SentinelAddrs: []string{"10.0.0.1:26379"}, TLSConfig: secure}},
		{url: "redis-cluster://:pw@10.0.0.1:7000,10.0.0.2:7001",
			want: asynq.RedisClusterClientOpt{Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7001"}, Password: "pw"}},
		{url: "rediss-cluster://10.0.0.1",
			want: asynq.RedisClusterClientOpt{Addrs: []string{"10.0.0.1:6379"}, TLSConfig: secure}},
		{url: "redis-sentinel://10.0.0.1:26379", wantErr: "master"},
		{url: "redis://:secret@10.0.0.1:6379,10.0.0.2:6379", wantErr: "one host"},
		{url: "redis-cluster://10.0.0.1:7000/1", wantErr: "database 0"},
		{url: "redis-cluster://10.0.0.1:7000,,10.0.0.2", wantErr: "empty host"},
		{url: "memcached://:secret@10.0.0.1", wantErr: "scheme"},
		{url: "redis-sentinel://:secret@10.0.0.1/x?master=m", wantErr: "database number"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			got, err := RedisOpt(tc.url, false)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("RedisOpt = %#v, %v; want an error about %q", got, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("the error %q repeats the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("RedisOpt(%q)\n got %#v\nwant %#v", tc.url, got, tc.want)
			}
		})
	}
}

func TestRedisOptInsecureSkipVerify(t *testing.T) {
	for _, u := range []string{"rediss://h:6380", "rediss-sentinel://h:26379?master=m", "rediss-cluster://h:7000"} {
		opt, err := RedisOpt(u, true)
		if err != nil {
			t.Fatal(err)
		}
		var cfg *tls.Config
		switch o := opt.(type) {
		case asynq.RedisClientOpt:
			cfg = o.TLSConfig
		case asynq.RedisFailoverClientOpt:
			cfg = o.TLSConfig
		case asynq.RedisClusterClientOpt:
			cfg = o.TLSConfig
		}
		if cfg == nil || !cfg.InsecureSkipVerify {
			t.Errorf("RedisOpt(%q, true): TLS config %#v, want InsecureSkipVerify", u, cfg)
		}
	}
}

// TestRedisSentinel runs a task through a Redis found by a Sentinel that
// this test starts (Debian's redis-sentinel), the way a worker configured
// with REDIS_URL=redis-sentinel://… does.
func TestRedisSentinel(t *testing.T) {
	sentinelBin, err := exec.LookPath("redis-sentinel")
	testenv.Require(t, "redis-sentinel (Debian package redis-sentinel)", err)
	serverBin, err := exec.LookPath("redis-server")
	testenv.Require(t, "redis-server (Debian package redis-server)", err)
	dir := t.TempDir()

	master := startRedis(t, serverBin, dir, "master")
	sentinelAddr := freeAddr(t)
	_, sentinelPort, _ := net.SplitHostPort(sentinelAddr)
	host, port, _ := net.SplitHostPort(master)
	conf := filepath.Join(dir, "sentinel.conf")
	err = os.WriteFile(conf, []byte(fmt.Sprintf(`port %s
bind 127.0.0.1
dir %s
sentinel monitor mymaster %s %s 1
sentinel down-after-milliseconds mymaster 60000
`, sentinelPort, dir, host, port)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	startDaemon(t, "redis-sentinel", sentinelBin, conf)
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinelAddr})
	defer sc.Close()
	waitUntil(t, "the Sentinel names the master", func(ctx context.Context) error {
		got, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
		if err == nil && net.JoinHostPort(got[0], got[1]) != master {
			err = fmt.Errorf("it names %v, want %s", got, master)
		}
		return err
	})

	opt, err := RedisOpt("redis-sentinel://"+sentinelAddr+"/2?master=mymaster", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := opt.(asynq.RedisFailoverClientOpt); !ok {
		t.Fatalf("RedisOpt gave %T, want asynq.RedisFailoverClientOpt", opt)
	}
	roundTrip(t, opt)

	// The task went through the master the Sentinel named, in database 2.
	direct := redis.NewClient(&redis.Options{Addr: master, DB: 2})
	defer direct.Close()
	keys, err := direct.Keys(context.Background(), "asynq:*").Result()
	if err != nil || len(keys) == 0 {
		t.Errorf("database 2 of the master holds no asynq keys (%v)", err)
	}
}

// TestRedisSentinelFailover stops the master under a running worker and
// enqueuer: once the Sentinel promotes the replica, both carry on through
// it without being rebuilt.
func TestRedisSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a Sentinel failover")
	}
	sentinelBin, err := exec.LookPath("redis-sentinel")
	testenv.Require(t, "redis-sentinel (Debian package redis-sentinel)", err)
	serverBin, err := exec.LookPath("redis-server")
	testenv.Require(t, "redis-server (Debian package redis-server)", err)
	dir := t.TempDir()

	master, stopMaster := startRedisStoppable(t, serverBin, dir, "master")
	host, port, _ := net.SplitHostPort(master)
	replica := startRedis(t, serverBin, dir, "replica", "--replicaof", host, port)
	sentinelAddr := freeAddr(t)
	_, sentinelPort, _ := net.SplitHostPort(sentinelAddr)
	conf := filepath.Join(dir, "sentinel.conf")
	err = os.WriteFile(conf, []byte(fmt.Sprintf(`port %s
bind 127.0.0.1
dir %s
sentinel monitor mymaster %s %s 1
sentinel down-after-milliseconds mymaster 500
sentinel failover-timeout mymaster 5000
`, sentinelPort, dir, host, port)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	startDaemon(t, "redis-sentinel", sentinelBin, conf)
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinelAddr})
	defer sc.Close()
	mastered := func(want string) func(context.Context) error {
		return func(ctx context.Context) error {
			got, err := sc.GetMasterAddrByName(ctx, "mymaster").Result()
			if err == nil && net.JoinHostPort(got[0], got[1]) != want {
				err = fmt.Errorf("the Sentinel names %v, want %s", got, want)
			}
			return err
		}
	}
	waitUntil(t, "the Sentinel names the master", mastered(master))
	waitUntil(t, "the Sentinel knows the replica", func(ctx context.Context) error {
		rs, err := sc.Replicas(ctx, "mymaster").Result()
		if err == nil && len(rs) == 0 {
			err = fmt.Errorf("no replica yet")
		}
		return err
	})

	opt, err := RedisOpt("redis-sentinel://"+sentinelAddr+"?master=mymaster", false)
	if err != nil {
		t.Fatal(err)
	}
	profs := upload.DefaultProfiles(50_000_000)
	got := make(chan string, 8)
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeProcess, func(_ context.Context, task *asynq.Task) error {
		var p ProcessPayload
		json.Unmarshal(task.Payload(), &p)
		got <- p.UploadID
		return nil
	})
	srv := NewServer(opt, ServerConfig{Concurrency: 1, Profiles: profs,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 50 * time.Millisecond})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	enq := NewEnqueuer(opt)
	defer enq.Close()
	process := func(when string) {
		t.Helper()
		id := upload.NewID(time.Now())
		deadline := time.Now().Add(20 * time.Second)
		// Right after a failover the first commands may still meet the
		// old master's closed connections: the web role answers 503 and
		// the client retries, as this loop does.
		for {
			err := enq.EnqueueProcess(context.Background(), id, profs["avatar"])
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: enqueue: %v", when, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		for {
			select {
			case g := <-got:
				if g == id {
					return
				}
			case <-time.After(time.Until(deadline)):
				t.Fatalf("%s: the worker did not start the task within 20s", when)
			}
		}
	}
	process("before the failover")

	stopMaster()
	waitUntil(t, "the Sentinel promotes the replica", mastered(replica))
	process("after the failover")
}

// TestRedisCluster runs a task through a three-node Redis Cluster that
// this test starts, the way a worker configured with
// REDIS_URL=redis-cluster://… does.
func TestRedisCluster(t *testing.T) {
	serverBin, err := exec.LookPath("redis-server")
	testenv.Require(t, "redis-server (Debian package redis-server)", err)
	cliBin, err := exec.LookPath("redis-cli")
	testenv.Require(t, "redis-cli (Debian package redis-tools)", err)
	dir := t.TempDir()
	var nodes []string
	for i := range 3 {
		_, busPort, _ := net.SplitHostPort(freeAddr(t))
		nodes = append(nodes, startRedis(t, serverBin, dir, fmt.Sprintf("node%d", i),
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", busPort))
	}
	create := exec.Command(cliBin, append([]string{"--cluster", "create"}, append(nodes, "--cluster-replicas", "0", "--cluster-yes")...)...)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n})
		waitUntil(t, n+" reports the cluster ok", func(ctx context.Context) error {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = fmt.Errorf("CLUSTER INFO: %s", info)
			}
			return err
		})
		c.Close()
	}

	opt, err := RedisOpt("redis-cluster://"+strings.Join(nodes, ","), false)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := opt.(asynq.RedisClusterClientOpt); !ok {
		t.Fatalf("RedisOpt gave %T, want asynq.RedisClusterClientOpt", opt)
	}
	roundTrip(t, opt)
}

// roundTrip enqueues one image task through opt and waits for a worker on
// opt to start it.
func roundTrip(t *testing.T, opt asynq.RedisConnOpt) {
	t.Helper()
	profs := upload.DefaultProfiles(50_000_000)
	got := make(chan string, 1)
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeProcess, func(_ context.Context, task *asynq.Task) error {
		var p ProcessPayload
		if err := json.Unmarshal(task.Payload(), &p); err != nil {
			return err
		}
		got <- p.UploadID
		return nil
	})
	srv := NewServer(opt, ServerConfig{Concurrency: 1, Profiles: profs,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PollInterval: 50 * time.Millisecond})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	enq := NewEnqueuer(opt)
	defer enq.Close()
	id := upload.NewID(time.Now())
	if err := enq.EnqueueProcess(context.Background(), id, profs["avatar"]); err != nil {
		t.Fatal(err)
	}
	select {
	case g := <-got:
		if g != id {
			t.Errorf("the worker ran upload %s, want %s", g, id)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the worker did not start the task within 15s")
	}
}

// startRedis starts a redis-server of the test's own, with extra
// arguments, and returns its address.
func startRedis(t *testing.T, bin, dir, name string, args ...string) string {
	addr, _ := startRedisStoppable(t, bin, dir, name, args...)
	return addr
}

func startRedisStoppable(t *testing.T, bin, dir, name string, args ...string) (string, func()) {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	sub := filepath.Join(dir, name)
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	stop := startDaemon(t, name, bin, append([]string{"--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", sub}, args...)...)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	waitUntil(t, name+" answers PING", func(ctx context.Context) error { return c.Ping(ctx).Err() })
	return addr, stop
}

// startDaemon runs bin until the test ends or stop is called.
func startDaemon(t *testing.T, name, bin string, args ...string) (stop func()) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out.String())
		}
	})
	return stop
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func waitUntil(t *testing.T, what string, ok func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ok(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 15s for %s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
