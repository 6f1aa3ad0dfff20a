// The stage strip: one small picture per stage value (the decoded input,
// then the output of every transform). Clicking a picture shows that stage
// in the sample view; the stage shown has a blue frame, the stage a selected
// finding blames a red one with a warning sign.
#pragma once

#include <QImage>
#include <QWidget>

#include <vector>

class QHBoxLayout;
class QLabel;

namespace bs::ui {

class StageStrip : public QWidget {
    Q_OBJECT
public:
    explicit StageStrip(QWidget* parent = nullptr);
    // Replaces the pictures (labels[k] under images[k]).
    void setStages(const std::vector<QImage>& images, const std::vector<QString>& labels);
    // Stage value shown (0 = input) and the culprit's (-1 = none).
    void setMarks(int shown, int culprit);
    int count() const { return int(cells_.size()); }
    // The cell of stage value k, for tests that click it.
    QWidget* cell(int k) const;
    int shownStage() const { return shown_; }
    int culpritStage() const { return culprit_; }

Q_SIGNALS:
    void stageClicked(int stage);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void restyle();

    QHBoxLayout* layout_;
    std::vector<QWidget*> cells_;
    std::vector<QLabel*> pictures_, captions_;
    int shown_ = -1, culprit_ = -1;
};

}  // namespace bs::ui
