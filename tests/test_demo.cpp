// The built-in demo dataset as the README shows it: `make run` without a
// display (scripts/run-demo.sh) prints the audit block the README quotes,
// and `batchscope bench` on it reports every stage and a rate.
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QRegularExpression>
#include <QtTest>

#include "support/testsupport.h"

namespace {

const QString kIntro = "On the built-in demo dataset (`make run`) the audit reports:";

// The lines of the fenced block that follows `intro` in README.md.
QStringList readmeBlockAfter(const QString& intro) {
    QFile f(bstest::sourceDir() + "/README.md");
    if (!f.open(QIODevice::ReadOnly)) return {};
    const QString text = QString::fromUtf8(f.readAll());
    const int at = text.indexOf(intro);
    if (at < 0) return {};
    const int open = text.indexOf("```", at);
    const int body = text.indexOf('\n', open) + 1;
    const int close = text.indexOf("```", body);
    if (open < 0 || close < 0) return {};
    return text.mid(body, close - body).split('\n', Qt::SkipEmptyParts);
}

// True when `line` starts with the part of `quoted` before its first "..."
// and holds every later part, in order ("..." stands for elided text,
// including the spaces and punctuation around it).
bool matchesQuoted(const QString& line, const QString& quoted) {
    const QStringList parts = quoted.trimmed().split("...");
    const QString printed = line.trimmed();
    if (!printed.startsWith(parts.front().trimmed())) return false;
    int from = int(parts.front().trimmed().size());
    for (int i = 1; i < parts.size(); ++i) {
        const QString part = parts[i].trimmed();
        const int at = int(printed.indexOf(part, from));
        if (at < 0) return false;
        from = at + int(part.size());
    }
    return true;
}

bool isFindingLine(const QString& line) {
    static const QRegularExpression re("^  (ERROR|WARNING|INFO) ");
    return re.match(line).hasMatch();
}

}  // namespace

class TestDemo : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // `make run` on a machine without a display: the headless audit, whose
    // summary and findings are the README's, line for line and in order.
    void headlessMakeRunPrintsTheReadmeAudit() {
        const QStringList quoted = readmeBlockAfter(kIntro);
        QVERIFY2(quoted.size() >= 2, "README: the demo audit block is missing");
        QProcess p;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("DISPLAY");
        env.remove("WAYLAND_DISPLAY");
        p.setProcessEnvironment(env);
        p.start("/bin/sh", {bstest::sourceDir() + "/scripts/run-demo.sh", bstest::cliPath()});
        QVERIFY(p.waitForFinished(300000));
        QCOMPARE(p.exitCode(), 0);
        const QString out = QString::fromUtf8(p.readAllStandardOutput());
        QVERIFY2(out.startsWith("No display found"), qPrintable(out));
        QStringList printed;
        for (const QString& line : out.split('\n'))
            if (isFindingLine(line) || line.contains(" finding(s)")) printed << line;
        QCOMPARE(printed.size(), quoted.size());
        for (int i = 0; i < quoted.size(); ++i)
            QVERIFY2(matchesQuoted(printed[i], quoted[i]),
                     qPrintable(QString("README line %1:\n  %2\nprinted:\n  %3")
                                    .arg(i + 1)
                                    .arg(quoted[i], printed[i])));
    }

    // The Makefile's run target builds into BUILD and starts run-demo.sh with
    // that build's CLI (dry run: nothing is installed or built here).
    void makeRunStartsTheDemoScript() {
        const QString build = QFileInfo(QFileInfo(bstest::cliPath()).path()).path();
        QProcess p;
        p.setWorkingDirectory(bstest::sourceDir());
        p.start("make", {"-n", "-s", "run", "BUILD=" + build});
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        const QStringList lines =
            QString::fromUtf8(p.readAllStandardOutput()).split('\n', Qt::SkipEmptyParts);
        QVERIFY(!lines.isEmpty());
        QCOMPARE(lines.last().trimmed(), "./scripts/run-demo.sh " + bstest::cliPath());
        QVERIFY2(lines.join('\n').contains("install-deps.sh"), qPrintable(lines.join('\n')));
    }

    // `batchscope bench` on the demo: every stage in the table, the samples
    // that fail to load counted as errors, and a positive rate last.
    void benchReportsStagesAndRate() {
        const auto r = bstest::runCli({"bench", bstest::sourceDir() + "/resources/demo", "--pipeline",
                                       bstest::sourceDir() + "/resources/demo-pipeline.json",
                                       "--batch-size", "4", "--workers", "1"});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QString out = r.out;
        QVERIFY2(out.contains("(imagefolder, 15 samples)"), qPrintable(out));
        for (const char* stage : {"decode", "1:Resize+CenterCrop (fused)", "2:CenterCrop (in previous)",
                                  "3:ToTensor", "4:Lambda", "5:Normalize", "collate"})
            QVERIFY2(out.contains(QString("\n") + stage + " "), stage);
        // 15 samples: the unreadable and the truncated file fail, 13 in 4 batches.
        QVERIFY2(out.contains("batches=4 images=13 errors=2"), qPrintable(out));
        double share = 0;
        static const QRegularExpression shareRe("\\s([0-9.]+)%\\n");
        for (auto it = shareRe.globalMatch(out); it.hasNext();) share += it.next().captured(1).toDouble();
        QVERIFY2(std::abs(share - 100.0) < 0.5, qPrintable(out));
        const QStringList lines = out.split('\n', Qt::SkipEmptyParts);
        QVERIFY(lines.last().startsWith("images_per_s="));
        QVERIFY(lines.last().mid(13).toDouble() > 0);
    }
};

QTEST_GUILESS_MAIN(TestDemo)
#include "test_demo.moc"
