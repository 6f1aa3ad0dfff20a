#include "core/target/coco_mask.h"

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

namespace bs {

namespace {

using json = nlohmann::json;

// Run lengths over the mask in column-major order (COCO's), alternating
// background and foreground, starting with background.
Image maskFromRuns(const std::vector<uint32_t>& runs, int width, int height) {
    Image m = Image::allocate(width, height, 1);
    const uint64_t total = uint64_t(width) * uint64_t(height);
    uint64_t pos = 0;
    for (size_t k = 0; k < runs.size(); ++k) {
        if (pos + runs[k] > total) throw Error("RLE runs cover more than the image");
        if (k % 2 == 1)
            for (uint64_t p = pos; p < pos + runs[k]; ++p)
                m.pixels[size_t(p % uint64_t(height)) * width + size_t(p / uint64_t(height))] = 1;
        pos += runs[k];
    }
    return m;
}

Image polygonMask(const json& polygons, int width, int height) {
    cv::Mat mat = cv::Mat::zeros(height, width, CV_8UC1);
    constexpr int kShift = 3;  // sub-pixel vertices, 1/8 pixel
    for (const auto& poly : polygons) {
        if (!poly.is_array() || poly.size() < 6 || poly.size() % 2)
            throw Error("a polygon is not a list of at least 3 x, y pairs");
        std::vector<cv::Point> points;
        for (size_t k = 0; k < poly.size(); k += 2) {
            if (!poly[k].is_number() || !poly[k + 1].is_number())
                throw Error("a polygon coordinate is not a number");
            points.emplace_back(int(std::lround(poly[k].get<double>() * (1 << kShift))),
                                int(std::lround(poly[k + 1].get<double>() * (1 << kShift))));
        }
        const cv::Point* pts = points.data();
        const int n = int(points.size());
        cv::fillPoly(mat, &pts, &n, 1, cv::Scalar(1), cv::LINE_8, kShift);
    }
    Image m = Image::allocate(width, height, 1);
    std::copy(mat.datastart, mat.dataend, m.pixels.begin());
    return m;
}

}  // namespace

std::vector<uint32_t> decodeCocoRleString(const std::string& counts) {
    std::vector<uint32_t> runs;
    std::vector<int64_t> values;
    size_t p = 0;
    while (p < counts.size()) {
        int64_t x = 0;
        int shift = 0;
        bool more = true;
        while (more) {
            // 12 characters of 5 bits hold any run; more would shift past 63 bits.
            if (p >= counts.size() || shift >= 60) throw Error("truncated or overlong RLE string");
            const int c = counts[p++] - 48;
            if (c < 0 || c > 63) throw Error("RLE string has a character outside '0'..'o'");
            x |= int64_t(c & 0x1f) << shift;
            more = (c & 0x20) != 0;
            shift += 5;
            if (!more && (c & 0x10)) x |= -(int64_t(1) << shift);  // sign extension
        }
        if (values.size() > 2) x += values[values.size() - 2];
        if (x < 0 || x > int64_t(UINT32_MAX)) throw Error("RLE run length out of range");
        values.push_back(x);
        runs.push_back(uint32_t(x));
    }
    return runs;
}

Image cocoInstanceMask(const json& segmentation, int width, int height) {
    if (width <= 0 || height <= 0) throw Error("the image has no width and height");
    if (segmentation.is_array()) return polygonMask(segmentation, width, height);
    if (!segmentation.is_object() || !segmentation.contains("counts"))
        throw Error("segmentation is neither polygons nor an RLE with 'counts'");
    const json& size = segmentation.value("size", json());
    if (size.is_array() && size.size() == 2 && size[0].is_number_integer() &&
        size[1].is_number_integer() && (size[0] != height || size[1] != width))
        throw Error("RLE size " + size.dump() + " is not the image's [" + std::to_string(height) +
                    ", " + std::to_string(width) + "]");
    const json& counts = segmentation["counts"];
    if (counts.is_string()) return maskFromRuns(decodeCocoRleString(counts), width, height);
    if (!counts.is_array()) throw Error("RLE 'counts' is neither a string nor a list");
    std::vector<uint32_t> runs;
    for (const auto& c : counts) {
        if (!c.is_number_integer() || c.get<int64_t>() < 0)
            throw Error("RLE 'counts' holds a value that is not a run length");
        runs.push_back(uint32_t(c.get<int64_t>()));
    }
    return maskFromRuns(runs, width, height);
}

Image semanticMask(const std::vector<Image>& instances, const std::vector<int64_t>& categories,
                   int width, int height) {
    Image out = Image::allocate(width, height, 1);
    std::vector<uint8_t> covered(out.pixels.size(), 0);
    for (size_t i = 0; i < instances.size() && i < categories.size(); ++i) {
        const uint8_t id = uint8_t(std::clamp<int64_t>(categories[i], 0, 255));
        for (size_t p = 0; p < out.pixels.size() && p < instances[i].pixels.size(); ++p) {
            if (!instances[i].pixels[p]) continue;
            out.pixels[p] = ++covered[p] > 1 ? 255 : id;
            if (covered[p] > 2) covered[p] = 2;
        }
    }
    return out;
}

}  // namespace bs
