// The Java side of Debrief's Avro interop test (tests/avro_interop.rs). Uses only Apache
// Avro's own API (org.apache.avro:avro, pinned in pom.xml), so what it writes and reads is
// what a Java producer or consumer of the contract writes and reads.
//
// Run as a single-file program (Java 11+), no compile step:
//   java -cp "$(cat target/interop/avro-classpath.txt)" tests/interop/Interop.java <command> ...
//
// Commands (FRAMING is `single` for the Avro single-object encoding, or `confluent:ID` for
// the Confluent wire format: 00 + 4-byte big-endian schema id):
//   canonical SCHEMA...                 one JSON line per schema file:
//                                       {"file", "canonical", "fingerprint" (0x%016x)}
//   registered SCHEMA OUT               writes to OUT the schema text a Java serializer
//                                       registers with a schema registry (Schema.toString())
//   encode SCHEMA FRAMING IN OUT        IN: one record per line in Avro's JSON encoding;
//                                       OUT: one framed binary record per line, in hex
//   decode SCHEMA FRAMING IN OUT_JSON OUT_HEX
//                                       IN: framed records in hex, one per line, decoded by
//                                       Avro (single-object: BinaryMessageDecoder, which
//                                       checks the fingerprint); OUT_JSON: each in Avro's JSON
//                                       encoding; OUT_HEX: each written again with FRAMING
//   produce SCHEMA BROKERS TOPIC IN     a Java producer: each record of IN (Avro's JSON encoding)
//                                       in single-object encoding, keyed by its
//                                       conversation_id, sent with the Kafka Java client
//                                       (acks=all, idempotent) to TOPIC
//   batch FILE                          runs the commands of FILE, one per line (arguments
//                                       separated by tabs), in one JVM
// Any error exits non-zero with a message on stderr.

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.io.JsonEncoder;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class Interop {
    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("batch")) {
            for (String line : lines(Path.of(args[1]))) {
                run(line.split("\t"));
            }
        } else {
            run(args);
        }
    }

    static void run(String[] args) throws Exception {
        if (args.length == 0) {
            usage();
        }
        switch (args[0]) {
            case "canonical" -> canonical(args);
            case "registered" -> {
                need(args, 3);
                Files.writeString(Path.of(args[2]), parse(args[1]).toString(), StandardCharsets.UTF_8);
            }
            case "encode" -> {
                need(args, 5);
                encode(parse(args[1]), args[2], Path.of(args[3]), Path.of(args[4]));
            }
            case "produce" -> {
                need(args, 5);
                produce(parse(args[1]), args[2], args[3], Path.of(args[4]));
            }
            case "decode" -> {
                need(args, 6);
                decode(parse(args[1]), args[2], Path.of(args[3]), Path.of(args[4]), Path.of(args[5]));
            }
            default -> usage();
        }
    }

    static void usage() {
        System.err.println("usage: Interop canonical SCHEMA... | registered SCHEMA OUT"
                + " | encode SCHEMA FRAMING IN OUT | decode SCHEMA FRAMING IN OUT_JSON OUT_HEX"
                + " | produce SCHEMA BROKERS TOPIC IN | batch FILE");
        System.exit(2);
    }

    static void need(String[] args, int n) {
        if (args.length != n) {
            usage();
        }
    }

    static Schema parse(String file) throws IOException {
        return new Schema.Parser().parse(new File(file));
    }

    static void canonical(String[] args) throws IOException {
        for (int i = 1; i < args.length; i++) {
            Schema schema = parse(args[i]);
            String canonical = SchemaNormalization.toParsingForm(schema);
            long fp = SchemaNormalization.parsingFingerprint64(schema);
            System.out.println("{\"file\":" + quote(new File(args[i]).getName())
                    + ",\"canonical\":" + quote(canonical)
                    + ",\"fingerprint\":\"" + String.format("0x%016x", fp) + "\"}");
        }
    }

    /** A JSON string literal. */
    static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    /** `confluent:ID` gives the id; `single` gives -1. */
    static int confluentId(String framing) {
        if (framing.equals("single")) {
            return -1;
        }
        if (framing.startsWith("confluent:")) {
            return Integer.parseInt(framing.substring("confluent:".length()));
        }
        throw new IllegalArgumentException("framing must be single or confluent:ID, not " + framing);
    }

    static byte[] frame(Schema schema, int id, Object datum) throws IOException {
        if (id < 0) {
            BinaryMessageEncoder<Object> enc = new BinaryMessageEncoder<>(GenericData.get(), schema);
            ByteBuffer buf = enc.encode(datum);
            byte[] out = new byte[buf.remaining()];
            buf.get(out);
            return out;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0);
        out.write(ByteBuffer.allocate(4).putInt(id).array());
        BinaryEncoder enc = EncoderFactory.get().binaryEncoder(out, null);
        new GenericDatumWriter<Object>(schema).write(datum, enc);
        enc.flush();
        return out.toByteArray();
    }

    static Object unframe(Schema schema, int id, byte[] bytes) throws IOException {
        if (id < 0) {
            BinaryMessageDecoder<Object> dec = new BinaryMessageDecoder<>(GenericData.get(), schema);
            return dec.decode(bytes);
        }
        if (bytes.length < 5 || bytes[0] != 0) {
            throw new IOException("not a Confluent record (magic byte 00 and 4-byte id)");
        }
        int got = ByteBuffer.wrap(bytes, 1, 4).getInt();
        if (got != id) {
            throw new IOException("schema id " + got + ", expected " + id);
        }
        var dec = DecoderFactory.get().binaryDecoder(bytes, 5, bytes.length - 5, null);
        Object datum = new GenericDatumReader<Object>(schema).read(null, dec);
        if (!dec.isEnd()) {
            throw new IOException("bytes left after the record");
        }
        return datum;
    }

    static List<String> lines(Path in) throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(in, StandardCharsets.UTF_8)) {
            if (!line.isBlank()) {
                out.add(line);
            }
        }
        return out;
    }

    static void encode(Schema schema, String framing, Path in, Path out) throws IOException {
        int id = confluentId(framing);
        GenericDatumReader<Object> reader = new GenericDatumReader<>(schema);
        StringBuilder hex = new StringBuilder();
        for (String line : lines(in)) {
            Object datum = reader.read(null, DecoderFactory.get().jsonDecoder(schema, line));
            hex.append(HexFormat.of().formatHex(frame(schema, id, datum))).append('\n');
        }
        Files.writeString(out, hex.toString(), StandardCharsets.UTF_8);
    }

    static void produce(Schema schema, String brokers, String topic, Path in) throws Exception {
        Properties props = new Properties();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        GenericDatumReader<Object> reader = new GenericDatumReader<>(schema);
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(props)) {
            for (String line : lines(in)) {
                Object datum = reader.read(null, DecoderFactory.get().jsonDecoder(schema, line));
                String key = ((GenericData.Record) datum).get("conversation_id").toString();
                // In order, one at a time: a conversation's events keep their order.
                producer.send(new ProducerRecord<>(topic, key, frame(schema, -1, datum))).get();
            }
            producer.flush();
        }
    }

    static void decode(Schema schema, String framing, Path in, Path outJson, Path outHex)
            throws IOException {
        int id = confluentId(framing);
        GenericDatumWriter<Object> writer = new GenericDatumWriter<>(schema);
        StringBuilder json = new StringBuilder();
        StringBuilder hex = new StringBuilder();
        for (String line : lines(in)) {
            Object datum = unframe(schema, id, HexFormat.of().parseHex(line.trim()));
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            JsonEncoder enc = EncoderFactory.get().jsonEncoder(schema, buf);
            writer.write(datum, enc);
            enc.flush();
            json.append(buf.toString(StandardCharsets.UTF_8).trim()).append('\n');
            hex.append(HexFormat.of().formatHex(frame(schema, id, datum))).append('\n');
        }
        Files.writeString(outJson, json.toString(), StandardCharsets.UTF_8);
        Files.writeString(outHex, hex.toString(), StandardCharsets.UTF_8);
    }
}
