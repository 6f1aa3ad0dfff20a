// Decoder error handling, metadata and robustness (pixel parity is in
// test_parity.cpp).
#include <QImageWriter>
#include <QtTest>

#include <unistd.h>

#include <zlib.h>

#include <functional>
#include <map>

#include "core/decode/decode.h"
#include "support/testsupport.h"

namespace {

QByteArray readAll(const QString& path) {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly)) return {};
    return f.readAll();
}

QByteArray pngChunk(const char* tag, const QByteArray& data) {
    QByteArray c;
    const quint32 n = quint32(data.size());
    c.append(char(n >> 24)).append(char(n >> 16)).append(char(n >> 8)).append(char(n));
    QByteArray body = QByteArray(tag, 4) + data;
    c += body;
    const quint32 crc =
        quint32(crc32(0, reinterpret_cast<const Bytef*>(body.constData()), uInt(body.size())));
    c.append(char(crc >> 24)).append(char(crc >> 16)).append(char(crc >> 8)).append(char(crc));
    return c;
}

QByteArray be32(quint32 v) {
    QByteArray b;
    b.append(char(v >> 24)).append(char(v >> 16)).append(char(v >> 8)).append(char(v));
    return b;
}

}  // namespace

class TestDecode : public QObject {
    Q_OBJECT

    QString fixture(const char* name) const {
        return bstest::sourceDir() + "/tests/parity/images/" + name;
    }

    // Runs `fn`, which must throw DecodeError of `kind` whose message
    // contains every string of `needles`.
    void expectError(const std::function<void()>& fn, bs::DecodeErrorKind kind,
                     const QStringList& needles, const char* what) {
        try {
            fn();
        } catch (const bs::DecodeError& e) {
            QVERIFY2(
                e.kind() == kind,
                qPrintable(
                    QString("%1: wrong kind %2 (%3)").arg(what).arg(int(e.kind())).arg(e.what())));
            const QString msg = QString::fromStdString(e.what());
            QVERIFY2(!msg.contains('\n'), qPrintable(msg));
            for (const QString& n : needles)
                QVERIFY2(msg.contains(n),
                         qPrintable(QString("%1: '%2' lacks '%3'").arg(what, msg, n)));
            return;
        } catch (const std::exception& e) {
            QFAIL(qPrintable(QString("%1: unexpected exception %2").arg(what, e.what())));
        }
        QFAIL(qPrintable(QString("%1: no error").arg(what)));
    }

private Q_SLOTS:
    void truncatedSkimageJpeg() {
        const QString path = "/usr/lib/python3/dist-packages/skimage/data/truncated.jpg";
        if (!QFile::exists(path)) BSTEST_SKIP("skimage data not installed");
        expectError([&] { bs::decodeImageFile(path.toStdString()); },
                    bs::DecodeErrorKind::Truncated, {"image file is truncated", path},
                    "skimage truncated.jpg");
    }

    void truncatedCutFiles() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        // Cut inside the entropy-coded data / the IDAT stream / the pixel
        // array of each container.
        for (const char* name : {"photo_chelsea.jpg", "rgb_420.jpg", "photo_coffee.png", "rgb.png",
                                 "rgb.bmp", "rgb.tif", "lossy.webp", "rgb.ppm"}) {
            const QByteArray full = readAll(fixture(name));
            QVERIFY2(full.size() > 200, name);
            QVERIFY(bs::decodeImageBuffer(reinterpret_cast<const uint8_t*>(full.constData()),
                                          size_t(full.size()), name)
                        .width > 0);
            const QString cut = tmp.filePath(QString("cut_") + name);
            bstest::writeFile(cut, full.left(full.size() * 2 / 3));
            expectError([&] { bs::decodeImageFile(cut.toStdString()); },
                        bs::DecodeErrorKind::Truncated, {"image file is truncated", cut}, name);
        }
    }

    void unreadableFiles() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        const QString empty = tmp.filePath("empty.jpg");
        bstest::writeFile(empty, {});
        expectError([&] { bs::decodeImageFile(empty.toStdString()); },
                    bs::DecodeErrorKind::Unreadable, {empty}, "zero-byte file");
        const QString text = tmp.filePath("notes.png");
        bstest::writeFile(text, "these are not pixels\n");
        expectError([&] { bs::decodeImageFile(text.toStdString()); },
                    bs::DecodeErrorKind::Unreadable, {text, "cannot identify image file"},
                    "text named .png");
        const QString missing = tmp.filePath("missing.png");
        expectError([&] { bs::decodeImageFile(missing.toStdString()); },
                    bs::DecodeErrorKind::Unreadable, {missing}, "missing file");
        expectError([&] { bs::decodeImageFile(tmp.path().toStdString()); },
                    bs::DecodeErrorKind::Unreadable, {tmp.path()}, "directory");
        // A valid signature followed by garbage.
        const QString junk = tmp.filePath("junk.jpg");
        bstest::writeFile(junk, QByteArray("\xFF\xD8\xFF\xE0", 4) + QByteArray(300, 'x'));
        try {
            bs::decodeImageFile(junk.toStdString());
            QFAIL("junk JPEG decoded");
        } catch (const bs::DecodeError& e) {
            QVERIFY(QString(e.what()).contains(junk));
        }
    }

    void oversizedHeaderRefusedBeforeDecoding() {
        QTemporaryDir tmp;
        QVERIFY(tmp.isValid());
        // IHDR claims 30000x30000 RGB (2.7 GB); the IDAT holds almost nothing.
        QByteArray ihdr = be32(30000) + be32(30000);
        ihdr.append(char(8)).append(char(2)).append(char(0)).append(char(0)).append(char(0));
        const QByteArray idat = qCompress(QByteArray(64, 0)).mid(4);  // zlib stream
        const QByteArray png = QByteArray("\x89PNG\r\n\x1a\n", 8) + pngChunk("IHDR", ihdr) +
                               pngChunk("IDAT", idat) + pngChunk("IEND", {});
        const QString path = tmp.filePath("huge.png");
        bstest::writeFile(path, png);
        expectError([&] { bs::decodeImageFile(path.toStdString()); },
                    bs::DecodeErrorKind::Oversized, {path, "30000x30000", "900000000"},
                    "30000x30000 PNG");
        // The limit is configurable and applies to every format.
        bs::DecodeOptions small;
        small.maxPixels = 1000;
        for (const char* name :
             {"photo_chelsea.jpg", "rgb.png", "rgb.bmp", "lossy.webp", "rgb.tif"}) {
            const QString p = fixture(name);
            expectError([&] { bs::decodeImageFile(p.toStdString(), small); },
                        bs::DecodeErrorKind::Oversized, {p, "1000"}, name);
        }
    }

    void exifOrientationRecordedNotApplied() {
        bs::DecodeInfo info;
        const bs::Image rotated =
            bs::decodeImageFile(fixture("exif_rot6.jpg").toStdString(), {}, &info);
        QCOMPARE(info.exifOrientation, 6);
        // Orientation 6 would swap width and height if applied.
        QCOMPARE(rotated.width, 67);
        QCOMPARE(rotated.height, 45);
        bs::DecodeInfo plain;
        bs::decodeImageFile(fixture("rgb_444.jpg").toStdString(), {}, &plain);
        QCOMPARE(plain.exifOrientation, 1);
    }

    void modesReported_data() {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("format");
        QTest::addColumn<QString>("mode");
        QTest::addColumn<int>("bits");
        QTest::newRow("rgb jpeg") << "rgb_420.jpg"
                                  << "JPEG"
                                  << "RGB" << 8;
        QTest::newRow("gray jpeg") << "gray.jpg"
                                   << "JPEG"
                                   << "L" << 8;
        QTest::newRow("cmyk jpeg") << "cmyk.jpg"
                                   << "JPEG"
                                   << "CMYK" << 8;
        QTest::newRow("16-bit gray png") << "gray16.png"
                                         << "PNG"
                                         << "I" << 16;
        QTest::newRow("16-bit rgb png") << "rgb16.png"
                                        << "PNG"
                                        << "RGB" << 16;
        QTest::newRow("1-bit png") << "bilevel.png"
                                   << "PNG"
                                   << "1" << 1;
        QTest::newRow("2-bit gray png") << "gray2.png"
                                        << "PNG"
                                        << "L" << 2;
        QTest::newRow("palette png") << "p_trns.png"
                                     << "PNG"
                                     << "P" << 8;
        QTest::newRow("4-bit palette png") << "p_4bit.png"
                                           << "PNG"
                                           << "P" << 4;
        QTest::newRow("gray+alpha png") << "la.png"
                                        << "PNG"
                                        << "LA" << 8;
        QTest::newRow("rgba png") << "rgba.png"
                                  << "PNG"
                                  << "RGBA" << 8;
        QTest::newRow("palette bmp") << "p.bmp"
                                     << "BMP"
                                     << "P" << 8;
        QTest::newRow("16-bit tiff") << "gray16.tif"
                                     << "TIFF"
                                     << "I;16" << 16;
        QTest::newRow("webp") << "lossless.webp"
                              << "WEBP"
                              << "RGB" << 8;
        QTest::newRow("pgm") << "l.pgm"
                             << "PPM"
                             << "L" << 8;
    }
    void modesReported() {
        QFETCH(QString, file);
        QFETCH(QString, format);
        QFETCH(QString, mode);
        QFETCH(int, bits);
        bs::DecodeInfo info;
        const bs::Image im =
            bs::decodeImageFile(fixture(qPrintable(file)).toStdString(), {}, &info);
        QCOMPARE(QString::fromStdString(info.format), format);
        QCOMPARE(QString::fromStdString(info.sourceMode), mode);
        QCOMPARE(info.bitDepth, bits);
        QCOMPARE(info.sourceWidth, im.width);
        QCOMPARE(info.sourceHeight, im.height);
        QCOMPARE(im.channels, 3);
        QCOMPARE(im.pixels.size(), size_t(im.width) * im.height * 3);
    }

    void grayAndBilevelExpandToRgb() {
        const bs::Image l = bs::decodeImageFile(fixture("l.png").toStdString());
        const bs::Image bw = bs::decodeImageFile(fixture("bilevel.png").toStdString());
        bool sawBlack = false, sawWhite = false;
        for (int y = 0; y < l.height; ++y)
            for (int x = 0; x < l.width; ++x) {
                QCOMPARE(l.at(y, x, 0), l.at(y, x, 1));
                QCOMPARE(l.at(y, x, 0), l.at(y, x, 2));
                const uint8_t v = bw.at(y, x, 0);
                QVERIFY(v == 0 || v == 255);
                sawBlack |= v == 0;
                sawWhite |= v == 255;
            }
        QVERIFY(sawBlack && sawWhite);
    }

    // Pillow checks the CRC of every chunk before the first IDAT (and calls
    // such a file unidentifiable) but not of IDAT itself: same here.
    void pngCrcCheckedLikePillow() {
        QTemporaryDir dir;
        QImage img(12, 8, QImage::Format_RGB888);
        img.fill(QColor(10, 200, 30));
        img.setText("k", "v");  // a tEXt chunk before IDAT
        const QString good = dir.path() + "/good.png";
        QVERIFY(img.save(good));
        QFile f(good);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray bytes = f.readAll();
        auto chunkEnd = [&](const char* type) {  // offset of the chunk's CRC
            for (int pos = 8; pos + 12 <= bytes.size();) {
                const quint32 len = (quint8(bytes[pos]) << 24) | (quint8(bytes[pos + 1]) << 16) |
                                    (quint8(bytes[pos + 2]) << 8) | quint8(bytes[pos + 3]);
                if (bytes.mid(pos + 4, 4) == type) return pos + 8 + int(len);
                pos += 12 + int(len);
            }
            return -1;
        };
        for (const char* type : {"IHDR", "tEXt", "IDAT"}) {
            const int at = chunkEnd(type);
            QVERIFY2(at > 0, type);
            QByteArray bad = bytes;
            bad[at] = char(bad[at] ^ 1);
            const QString path = dir.path() + "/bad_" + type + ".png";
            bstest::writeFile(path, bad);
            if (QByteArray(type) == "IDAT") {
                const bs::Image im = bs::decodeImageFile(path.toStdString());
                QCOMPARE(im.width, 12);
                QCOMPARE(int(im.at(0, 0, 1)), 200);
            } else {
                expectError([&] { bs::decodeImageFile(path.toStdString()); },
                            bs::DecodeErrorKind::Unreadable, {path, "cannot identify", type}, type);
            }
        }
    }

    // A JPEG of thousands of scans is the classic decode-time bomb; it is
    // refused from its marker structure before any decoding.
    void pathologicalScanCountRefused() {
        QFile f(fixture("rgb_420.jpg"));
        if (!f.exists()) BSTEST_SKIP("fixture rgb_420.jpg missing");
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray jpeg = f.readAll();
        const int sos = jpeg.indexOf(QByteArray("\xFF\xDA", 2));
        QVERIFY(sos > 0);
        const QByteArray scan = jpeg.mid(sos, jpeg.size() - 2 - sos);  // SOS up to EOI
        QByteArray bomb = jpeg.left(sos);
        for (int i = 0; i < 501; ++i) bomb += scan;
        bomb += QByteArray("\xFF\xD9", 2);
        QTemporaryDir dir;
        const QString path = dir.path() + "/bomb.jpg";
        bstest::writeFile(path, bomb);
        expectError([&] { bs::decodeImageFile(path.toStdString()); }, bs::DecodeErrorKind::Unreadable,
                    {path, "501 scans"}, "scan bomb");
        // An ordinary progressive JPEG (about ten scans) decodes.
        QImage img(64, 48, QImage::Format_RGB888);
        for (int y = 0; y < 48; ++y)
            for (int x = 0; x < 64; ++x) img.setPixel(x, y, qRgb(x * 4, y * 5, (x ^ y) * 3));
        QImageWriter writer(dir.path() + "/progressive.jpg", "jpeg");
        writer.setProgressiveScanWrite(true);
        QVERIFY2(writer.write(img), qPrintable(writer.errorString()));
        const bs::Image im = bs::decodeImageFile((dir.path() + "/progressive.jpg").toStdString());
        QCOMPARE(im.width, 64);
    }

    // The per-file time limit stops a decode part-way: JPEG between scans
    // (a TimeLimit error can only come from libjpeg's progress callback, so
    // the decode was cut short, not judged afterwards), PNG between rows.
    // Each file decodes without the limit, so it is slow, not broken.
    // Both sides are far from the limits used, on any machine: the slow
    // files take seconds (JPEG) and over 50 ms (PNG) against a 1 ms limit;
    // the ordinary file takes well under a millisecond against the default
    // 10 s limit.
    void timeLimitStopsSlowJpegAndPng() {
        QTemporaryDir dir;
        const QString jpeg = dir.path() + "/many_scans.jpg";
        const QByteArray bomb = bstest::slowManyScanJpeg(4000, 3000, 400);
        QVERIFY(!bomb.isEmpty());
        bstest::writeFile(jpeg, bomb);
        const QString png = dir.path() + "/huge_flat.png";
        QImage flat(6000, 6000, QImage::Format_Grayscale8);
        flat.fill(77);
        QVERIFY(flat.save(png));

        bs::DecodeOptions limited;
        limited.timeLimitSeconds = 0.001;
        expectError([&] { bs::decodeImageFile(jpeg.toStdString(), limited); },
                    bs::DecodeErrorKind::TimeLimit, {jpeg, "time limit of 0.001 s"}, "jpeg");
        expectError([&] { bs::decodeImageFile(png.toStdString(), limited); },
                    bs::DecodeErrorKind::TimeLimit, {png, "time limit"}, "png");

        bs::DecodeOptions unlimited;
        unlimited.timeLimitSeconds = 0;
        QCOMPARE(bs::decodeImageFile(jpeg.toStdString(), unlimited).width, 4000);
        const bs::Image big = bs::decodeImageFile(png.toStdString(), unlimited);
        QCOMPARE(big.height, 6000);
        QCOMPARE(int(big.at(5999, 5999, 2)), 77);
        // An ordinary file is untouched by the default limit.
        bstest::writePatternImage(dir.path() + "/small.png", 64, 48, 3);
        QCOMPARE(bs::decodeImageFile((dir.path() + "/small.png").toStdString(), {}).width, 64);
    }

    // GIF is stopped between rows and TIFF between strips (or abandoned to
    // its helper thread): 8000x8000 single-colour files, a quarter of a
    // second or more to decode, against a 1 ms limit.
    void timeLimitStopsSlowGifAndTiff() {
        if (!bstest::torchvisionAvailable()) BSTEST_SKIP("python3 with PIL writes the GIF and TIFF files");
        QTemporaryDir dir;
        const QString gif = dir.path() + "/huge.gif", tif = dir.path() + "/huge.tif";
        const auto r = bstest::runPython(
            {"-c",
             "import sys; from PIL import Image\n"
             "im = Image.new('L', (8000, 8000), 91)\n"
             "im.convert('P').save(sys.argv[1])\n"
             "im.save(sys.argv[2], compression='tiff_lzw')\n",
             gif, tif});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        bs::DecodeOptions limited;
        limited.timeLimitSeconds = 0.001;
        for (const QString& f : {gif, tif})
            expectError([&] { bs::decodeImageFile(f.toStdString(), limited); },
                        bs::DecodeErrorKind::TimeLimit, {f, "time limit of 0.001 s"}, "gif/tiff");
        QTRY_COMPARE_WITH_TIMEOUT(bs::abandonedDecodesRunning(), 0, 120000);
        bs::DecodeOptions unlimited;
        unlimited.timeLimitSeconds = 0;
        for (const QString& f : {gif, tif}) {
            const bs::Image im = bs::decodeImageFile(f.toStdString(), unlimited);
            QCOMPARE(im.width, 8000);
            QCOMPARE(int(im.at(7999, 7999, 0)), 91);
        }
    }

    // A file over 2 GiB is refused as oversized from its size alone (a
    // sparse file: nothing is written or read), naming the file.
    void filesOver2GiBAreRefused() {
        QTemporaryDir dir;
        const QString path = dir.path() + "/huge.png";
        bstest::writePatternImage(path, 16, 16, 1);
        QCOMPARE(bs::decodeImageFile(path.toStdString()).width, 16);  // valid before growing
        QVERIFY(::truncate(path.toLocal8Bit().constData(), off_t(bs::kMaxImageFileBytes) + 1) == 0);
        expectError([&] { bs::decodeImageFile(path.toStdString()); }, bs::DecodeErrorKind::Oversized,
                    {path, "2147483649 bytes exceeds the limit of 2147483648"}, "2 GiB");
    }

    // OpenCV's decoders cannot be stopped: past the limit the caller gets
    // its error at once and the decode finishes on a helper thread, which
    // then frees everything (the abandoned count returns to zero).
    void timeLimitAbandonsOpenCvDecode() {
        if (!bstest::torchvisionAvailable()) BSTEST_SKIP("python3 with PIL writes the WebP file");
        QTemporaryDir dir;
        const QString webp = dir.path() + "/huge.webp";
        auto r = bstest::runPython(
            {"-c",
             "import sys; from PIL import Image; "
             "Image.new('RGB', (8000, 8000), (10, 200, 30)).save(sys.argv[1], lossless=True)",
             webp});
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        QCOMPARE(bs::abandonedDecodesRunning(), 0);
        bs::DecodeOptions limited;
        limited.timeLimitSeconds = 0.001;
        expectError([&] { bs::decodeImageFile(webp.toStdString(), limited); },
                    bs::DecodeErrorKind::TimeLimit, {webp, "time limit"}, "webp");
        QTRY_COMPARE_WITH_TIMEOUT(bs::abandonedDecodesRunning(), 0, 120000);
        bs::DecodeOptions unlimited;
        unlimited.timeLimitSeconds = 0;
        const bs::Image im = bs::decodeImageFile(webp.toStdString(), unlimited);
        QCOMPARE(im.width, 8000);
        QCOMPARE(int(im.at(7999, 7999, 1)), 200);
    }

    // Pillow walks a JPEG's header with rules of its own, stricter than
    // libjpeg's; a file it refuses must be refused here (an unreadable_file
    // finding), and one it loads must decode. Targeted header edits of a
    // real JPEG, Pillow 9.4 the oracle: each rule of the walk is hit once.
    void jpegHeaderRulesLikePillow() {
        if (!bstest::torchvisionAvailable()) BSTEST_SKIP("python3 with PIL is the oracle");
        const QByteArray jpeg = readAll(fixture("rgb_420.jpg"));
        QVERIFY(jpeg.startsWith(QByteArray("\xFF\xD8", 2)));
        auto segment = [](int code, const QByteArray& payload) {
            const int len = int(payload.size()) + 2;
            return QByteArray(1, char(0xFF)) + char(code) + char(len >> 8) + char(len & 0xFF) +
                   payload;
        };
        auto afterSoi = [&](const QByteArray& inserted) {
            return jpeg.left(2) + inserted + jpeg.mid(2);
        };
        const int sof = jpeg.indexOf(QByteArray("\xFF\xC0", 2));
        QVERIFY(sof > 0);
        // Offsets into the SOF0 payload: precision, height (2), width (2), components.
        auto withSofByte = [&](int offset, char value) {
            QByteArray b = jpeg;
            b[sof + 4 + offset] = value;
            return b;
        };
        const QByteArray quant8(64, char(1));
        const std::map<QString, QByteArray> variants = {
            {"control", jpeg},
            {"short_jfif", afterSoi(segment(0xE0, QByteArray("JFIF\0", 5)))},
            {"whole_jfif",
             afterSoi(segment(0xE0, QByteArray("JFIF\0\x01\x01\0\0\x01\0\x01\0\0", 14)))},
            {"short_adobe", afterSoi(segment(0xEE, QByteArray("Adobe\0", 6)))},
            {"short_icc", afterSoi(segment(0xE2, QByteArray("ICC_PROFILE\0\x01", 13)))},
            {"dqt_16bit_cut", afterSoi(segment(0xDB, QByteArray(1, char(0x10)) + quant8))},
            {"dqt_16bit_whole",
             afterSoi(segment(0xDB, QByteArray(1, char(0x10)) + quant8 + quant8))},
            {"dqt_8bit_extra", afterSoi(segment(0xDB, QByteArray(1, char(0x01)) + quant8))},
            {"unknown_marker", afterSoi(QByteArray("\xFF\x02", 2))},
            {"fill_bytes", afterSoi(QByteArray("\xFF\xFF", 2))},
            {"precision_12", withSofByte(0, char(12))},
            {"two_components", withSofByte(5, char(2))},
            {"zero_width",
             [&] {
                 QByteArray b = withSofByte(3, 0);
                 b[sof + 4 + 4] = 0;
                 return b;
             }()},
        };
        QTemporaryDir dir;
        QStringList paths;
        for (const auto& [name, bytes] : variants) {
            paths << dir.path() + "/" + name + ".jpg";
            bstest::writeFile(paths.back(), bytes);
        }
        QStringList args{"-c",
                         "import sys; from PIL import Image\n"
                         "for p in sys.argv[1:]:\n"
                         "    try:\n"
                         "        Image.open(p).convert('RGB'); print('ok')\n"
                         "    except Exception as e:\n"
                         "        print('bad')\n"};
        const auto r = bstest::runPython(args + paths);
        QVERIFY2(r.exitCode == 0, qPrintable(r.err));
        const QStringList verdicts = QString(r.out).split('\n', Qt::SkipEmptyParts);
        QCOMPARE(verdicts.size(), paths.size());
        int refusedByPillow = 0;
        for (int i = 0; i < paths.size(); ++i) {
            bool decoded = true;
            try {
                bs::decodeImageFile(paths[i].toStdString());
            } catch (const bs::DecodeError& e) {
                decoded = false;
                QVERIFY2(QString(e.what()).contains(paths[i]), e.what());
            }
            refusedByPillow += verdicts[i] == "bad";
            QVERIFY2(decoded == (verdicts[i] == "ok"),
                     qPrintable(QFileInfo(paths[i]).fileName() + ": Pillow " + verdicts[i] +
                                ", batchscope " + (decoded ? "decodes it" : "refuses it")));
        }
        // The edits must exercise both sides of the rules.
        QVERIFY2(refusedByPillow >= 6, qPrintable(QString::number(refusedByPillow)));
        QVERIFY2(paths.size() - refusedByPillow >= 3, qPrintable(QString::number(refusedByPillow)));
    }

    void imageExtensions() {
        for (const char* ok : {"a.jpg", "b.JPEG", "dir.x/c.png", "d.Ppm", "e.bmp", "f.pgm", "g.tif",
                               "h.TIFF", "i.webp", "x.tar.jpg"})
            QVERIFY2(bs::hasImageExtension(ok), ok);
        for (const char* no :
             {"a.gif", "b.txt", "jpg", "dir.jpg/file", "c.jpgx", "d.", "e.pngg", ""})
            QVERIFY2(!bs::hasImageExtension(no), no);
    }

    // Corrupted copies of every fixture must decode or throw DecodeError,
    // never crash or throw anything else.
    void corruptedInputsNeverCrash() {
        QDir dir(bstest::sourceDir() + "/tests/parity/images");
        const QStringList files = dir.entryList(QDir::Files);
        QVERIFY(files.size() >= 20);
        uint32_t state = 12345;
        auto rnd = [&] { return state = state * 1103515245u + 12345u, state >> 8; };
        int decoded = 0, refused = 0;
        for (const QString& name : files) {
            const QByteArray orig = readAll(dir.filePath(name));
            for (int trial = 0; trial < 12; ++trial) {
                QByteArray b = orig;
                const int flips = 1 + int(rnd() % 8);
                for (int k = 0; k < flips; ++k)
                    b[int(rnd() % uint32_t(b.size()))] = char(rnd() & 0xFF);
                if (trial % 3 == 2) b.truncate(int(rnd() % uint32_t(b.size())));
                try {
                    const bs::Image im =
                        bs::decodeImageBuffer(reinterpret_cast<const uint8_t*>(b.constData()),
                                              size_t(b.size()), name.toStdString());
                    QCOMPARE(im.pixels.size(), size_t(im.width) * im.height * 3);
                    ++decoded;
                } catch (const bs::DecodeError& e) {
                    QVERIFY2(QString(e.what()).contains(name), e.what());
                    ++refused;
                }
            }
        }
        qInfo("corrupted inputs: %d decoded, %d refused with DecodeError", decoded, refused);
        QVERIFY(refused > 0);
    }
};

QTEST_MAIN(TestDecode)
#include "test_decode.moc"
