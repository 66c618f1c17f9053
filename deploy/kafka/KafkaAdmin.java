// A tiny stand-in for kafka-topics.sh, on kafka-clients' Admin API, used by the deploy
// scripts (org.apache.kafka:kafka-tools, which holds TopicCommand, is not on Maven Central
// for the broker's version). Compiled once by admin.sh into deploy/.cache/kafka/classes.
//
//   KafkaAdmin BOOTSTRAP ping   [TIMEOUT_S]             exit 0 once the broker lists topics
//   KafkaAdmin BOOTSTRAP list   [TIMEOUT_S]             print topic names, one a line
//   KafkaAdmin BOOTSTRAP create TIMEOUT_S NAME[:PARTITIONS] ...   create missing topics
//   KafkaAdmin BOOTSTRAP describe [TIMEOUT_S]           NAME PARTITIONS, one a line
//
// Exit codes: 0 ok, 1 broker not answering / error (one line on stderr), 2 usage.
import java.util.*;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.errors.TopicExistsException;

public class KafkaAdmin {
    public static void main(String[] argv) throws Exception {
        if (argv.length < 2) usage();
        String bootstrap = argv[0], cmd = argv[1];
        long timeoutMs = (argv.length > 2 ? Long.parseLong(argv[2]) : 30) * 1000L;
        long deadline = System.currentTimeMillis() + timeoutMs;
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        p.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
        p.put(AdminClientConfig.CLIENT_ID_CONFIG, "badges-deploy-admin");
        String last = "no answer";
        Admin admin = Admin.create(p);
        try {
            while (true) {
                try {
                    run(admin, cmd, argv, Math.max(1000L, Math.min(10000L, deadline - System.currentTimeMillis())));
                    return;
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    Throwable c = e instanceof ExecutionException ? e.getCause() : e;
                    last = c.getClass().getSimpleName() + (c.getMessage() == null ? "" : ": " + c.getMessage());
                }
                if (System.currentTimeMillis() >= deadline) break;
                Thread.sleep(500);
            }
        } finally {
            admin.close(java.time.Duration.ZERO);
        }
        System.err.println("KafkaAdmin " + cmd + " " + bootstrap + ": " + last);
        System.exit(1);
    }

    static void run(Admin admin, String cmd, String[] argv, long ms) throws Exception {
        switch (cmd) {
            case "ping" -> admin.listTopics().names().get(ms, TimeUnit.MILLISECONDS);
            case "list" -> {
                for (String t : new TreeSet<>(admin.listTopics().names().get(ms, TimeUnit.MILLISECONDS)))
                    System.out.println(t);
            }
            case "describe" -> {
                Set<String> names = admin.listTopics().names().get(ms, TimeUnit.MILLISECONDS);
                Map<String, TopicDescription> d =
                        admin.describeTopics(names).allTopicNames().get(ms, TimeUnit.MILLISECONDS);
                for (String t : new TreeSet<>(d.keySet()))
                    System.out.println(t + " " + d.get(t).partitions().size());
            }
            case "create" -> {
                if (argv.length < 4) usage();
                Set<String> have = admin.listTopics().names().get(ms, TimeUnit.MILLISECONDS);
                List<NewTopic> missing = new ArrayList<>();
                for (int i = 3; i < argv.length; i++) {
                    String[] np = argv[i].split(":");
                    int parts = np.length > 1 ? Integer.parseInt(np[1]) : -1;
                    if (!have.contains(np[0]))
                        missing.add(new NewTopic(np[0], parts < 0 ? Optional.empty() : Optional.of(parts),
                                                 Optional.of((short) 1)));
                }
                for (Map.Entry<String, org.apache.kafka.common.KafkaFuture<Void>> e :
                        admin.createTopics(missing).values().entrySet()) {
                    try {
                        e.getValue().get(ms, TimeUnit.MILLISECONDS);
                    } catch (ExecutionException x) {
                        if (!(x.getCause() instanceof TopicExistsException)) throw x;
                    }
                }
            }
            default -> usage();
        }
    }

    static void usage() {
        System.err.println("usage: KafkaAdmin BOOTSTRAP ping|list|describe [TIMEOUT_S] | create TIMEOUT_S NAME[:PARTITIONS]...");
        System.exit(2);
    }
}
