#include "imaging/video_writer.h"

#include "util/error.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <cstdio>
#include <filesystem>

namespace sde {

void writeVideo(const std::string &path, const std::vector<torch::Tensor> &frames, double fps)
{
    if (frames.empty())
        throw Error("there are no frames to write");
    const int64_t height = frames.front().size(1), width = frames.front().size(2);
    const int factor =
        static_cast<int>(std::max<int64_t>(1, (256 + std::min(height, width) - 1) / std::min(height, width)));
    const cv::Size size(static_cast<int>(width) * factor, static_cast<int>(height) * factor);
    const std::string temporary = path + ".partial.avi";
    cv::VideoWriter writer(temporary, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps, size, true);
    if (!writer.isOpened())
        throw Error("cannot write the video '" + path + "' (OpenCV could not open a Motion-JPEG writer)");
    for (const torch::Tensor &frame : frames) {
        if (frame.size(1) != height || frame.size(2) != width)
            throw Error("the video's frames differ in size");
        torch::Tensor hwc = (frame.detach().to(torch::kCPU, torch::kFloat32).clamp(0.0, 1.0) * 255.0)
                                .round()
                                .to(torch::kUInt8)
                                .permute({1, 2, 0})
                                .contiguous();
        cv::Mat image(static_cast<int>(height), static_cast<int>(width), hwc.size(2) == 1 ? CV_8UC1 : CV_8UC3,
                      hwc.data_ptr());
        cv::Mat bgr, large;
        if (hwc.size(2) == 1)
            cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
        else
            cv::cvtColor(image, bgr, cv::COLOR_RGB2BGR);
        cv::resize(bgr, large, size, 0, 0, cv::INTER_NEAREST);
        writer.write(large);
    }
    writer.release();
    std::error_code error;
    std::filesystem::rename(temporary, path, error);
    if (error) {
        std::filesystem::remove(temporary, error);
        throw Error("cannot write the video '" + path + "'");
    }
}

std::string openCvVersion()
{
    return CV_VERSION;
}

} // namespace sde
